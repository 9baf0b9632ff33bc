// squadflow portal: the only client script. Forms with data-api post JSON to the API (with the CSRF token
// of the page) and show the answer — or the refusal — in their <output>; elements with data-events are
// replaced by the HTML fragments the server pushes over Server-Sent Events. Server fragments are escaped
// server-side; text from the API is inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var pending = 0; // requests in flight: a live fragment waits for them, so their answer lands in the page
  var lives = [];

  function describe(body) {
    if (body && body.error) return "Refused: " + String(body.error).replace(/^refused:\s*/, "");
    if (body && body.entry)
      return body.entry.action + " by " + body.entry.actor + " at " + body.entry.at + " — " + body.entry.reason;
    if (body && body.cancelled) return "cancellation requested: " + body.cancelled;
    return JSON.stringify(body);
  }

  // A fragment is swapped in only when no request is in flight and the reviewer is not typing in it.
  function canReplace(el) {
    if (pending > 0) return false;
    var active = document.activeElement;
    return !(active && el.contains(active) && (active.tagName === "INPUT" || active.tagName === "TEXTAREA"));
  }

  function replace(el, html) {
    var kept = {};
    el.querySelectorAll("form[data-api] output.result").forEach(function (o) {
      if (o.textContent) kept[o.closest("form").dataset.api] = { text: o.textContent, cls: o.className };
    });
    el.innerHTML = html;
    el.querySelectorAll("form[data-api] output.result").forEach(function (o) {
      var api = o.closest("form").dataset.api;
      var k = kept[api];
      if (k) {
        o.textContent = k.text;
        o.className = k.cls;
        delete kept[api];
      }
    });
    // A decided card leaves the live list: its result stays on the page as a note.
    Object.keys(kept).forEach(function (api) {
      var note = document.createElement("p");
      note.className = "decided " + kept[api].cls.replace("result", "").trim();
      note.textContent = kept[api].text;
      el.parentNode.insertBefore(note, el);
    });
    el.dataset.updated = String(Date.now());
  }

  function flush() {
    lives.forEach(function (live) {
      if (live.next !== undefined && canReplace(live.el)) {
        var html = live.next;
        live.next = undefined;
        replace(live.el, html);
      }
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    ev.preventDefault();
    var data = {};
    new FormData(form).forEach(function (v, k) {
      if (typeof v === "string" && v !== "") data[k] = v;
    });
    if (ev.submitter && ev.submitter.name) data[ev.submitter.name] = ev.submitter.value;
    var out = form.querySelector("output.result");
    out.textContent = "…";
    out.className = "result";
    pending++;
    fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(data),
      credentials: "same-origin",
    })
      .then(function (res) {
        return res
          .json()
          .catch(function () {
            return { error: res.status + " " + res.statusText };
          })
          .then(function (body) {
            out.textContent = describe(res.ok ? body : { error: (body && body.error) || res.statusText });
            out.className = "result " + (res.ok ? "ok" : "bad");
            if (res.ok && body.location) window.location.assign(body.location);
          });
      })
      .catch(function (err) {
        out.textContent = "Refused: " + err;
        out.className = "result bad";
      })
      .then(function () {
        pending--;
        flush();
      });
  });

  document.addEventListener("focusout", function () {
    setTimeout(flush, 0);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-events]").forEach(function (el) {
      var live = { el: el, next: undefined };
      lives.push(live);
      var source = new EventSource(el.dataset.events);
      source.addEventListener("html", function (e) {
        live.next = e.data;
        flush();
      });
      addEventListener("pagehide", function () {
        source.close();
      });
    });
  });
})();
