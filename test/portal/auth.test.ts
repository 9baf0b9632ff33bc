/**
 * The portal's security rules over HTTP (no browser needed): identities, 401/403, CSRF and Origin checks,
 * read-only mode, and the auth settings' parsing.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken, PortalConfigError, resolvePortalAuth } from "../../src/portal/auth.js";
import type { PortalHandle } from "../../src/portal/server.js";
import { TOKENS, testPortal } from "./helpers.js";

let portal: PortalHandle;
let readOnly: PortalHandle;

beforeAll(async () => {
  [portal, readOnly] = await Promise.all([testPortal(), testPortal({ readOnly: true })]);
});
afterAll(async () => {
  await portal?.close();
  await readOnly?.close();
});

const REVIEW = "/api/backlogs/some-backlog/cards/SOME-001/review";
const json = (extra: Record<string, string> = {}) => ({ "content-type": "application/json", ...extra });
const body = JSON.stringify({ decision: "approve", reason: "ok" });

/** Logs in through the login URL; returns the cookies (session + CSRF) and the page's CSRF token. */
async function login(p: PortalHandle, token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${p.url}/login?token=${token}`, { redirect: "manual" });
  expect(res.status).toBe(303);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const page = await (await fetch(`${p.url}/login`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];
  expect(csrf).toBeTruthy();
  return { cookie, csrf: csrf! };
}

describe("portal security", () => {
  it("answers 401 to a state-changing request without credentials, and to a wrong token", async () => {
    for (const route of [REVIEW, "/api/backlogs/b/pause", "/api/backlogs/b/cards/c/retry", "/api/backlogs"]) {
      expect((await fetch(`${portal.url}${route}`, { method: "POST", headers: json(), body })).status).toBe(401);
    }
    expect(
      (
        await fetch(`${portal.url}${REVIEW}`, {
          method: "POST",
          headers: json({ authorization: "Bearer not-a-token" }),
          body,
        })
      ).status,
    ).toBe(401);
    expect((await fetch(`${portal.url}/api/backlogs`)).status).toBe(401);
    const page = await fetch(`${portal.url}/`, { redirect: "manual" });
    expect([page.status, page.headers.get("location")]).toEqual([303, "/login"]);
  });

  it("answers 403 to a viewer and to anyone on a read-only portal", async () => {
    expect(
      (
        await fetch(`${portal.url}${REVIEW}`, {
          method: "POST",
          headers: json({ authorization: `Bearer ${TOKENS.viewer}` }),
          body,
        })
      ).status,
    ).toBe(403);
    const ro = await fetch(`${readOnly.url}${REVIEW}`, {
      method: "POST",
      headers: json({ authorization: `Bearer ${TOKENS.reviewer}` }),
      body,
    });
    expect(ro.status).toBe(403);
    expect(await ro.json()).toEqual({ error: "the portal is read-only" });
    // Reading is fine for both.
    expect(
      (await fetch(`${portal.url}/api/me`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } })).status,
    ).toBe(200);
  });

  it("refuses a cookie-authenticated POST without the CSRF token or from another origin, and lets it through with both", async () => {
    const { cookie, csrf } = await login(portal, TOKENS.reviewer);
    const post = (headers: Record<string, string>) =>
      fetch(`${portal.url}${REVIEW}`, { method: "POST", headers: json({ cookie, ...headers }), body });
    expect((await post({})).status).toBe(403);
    expect((await post({ "x-csrf-token": "wrong-token-wrong-token-wrong" })).status).toBe(403);
    expect((await post({ "x-csrf-token": csrf, origin: "http://evil.example" })).status).toBe(403);
    // Past the checks, the request reaches Temporal: the backlog does not exist.
    const ok = await post({ "x-csrf-token": csrf, origin: portal.url });
    expect(ok.status).toBe(404);
    expect(((await ok.json()) as { error: string }).error).toContain('unknown backlog "some-backlog"');
    const me = (await (await fetch(`${portal.url}/api/me`, { headers: { cookie } })).json()) as {
      reviewer: string;
      via: string;
    };
    expect(me).toMatchObject({ reviewer: "tess", via: "session" });
    // Logging out (the page's form, with its CSRF token) ends the session.
    const logout = (fields: Record<string, string>) =>
      fetch(`${portal.url}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields),
      });
    expect((await logout({})).status).toBe(403);
    expect((await logout({ _csrf: csrf })).status).toBe(303);
    expect((await fetch(`${portal.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  });

  it("logs in through the login form only with the page's CSRF token, and refuses an unknown token", async () => {
    const form = await fetch(`${portal.url}/login`);
    const cookie = form.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const post = (fields: Record<string, string>) =>
      fetch(`${portal.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields),
      });
    expect((await post({ token: TOKENS.reviewer })).status).toBe(403);
    const wrong = await post({ token: "not-a-known-token", _csrf: csrf });
    expect([wrong.status, await wrong.text()]).toEqual([400, expect.stringContaining("Unknown token.")]);
    const ok = await post({ token: TOKENS.reviewer, _csrf: csrf });
    expect([ok.status, ok.headers.get("location")]).toEqual([303, "/"]);
    expect(
      ok.headers.getSetCookie().some((c) => /^squadflow_session=[\w-]{43}; .*HttpOnly.*SameSite=Strict/i.test(c)),
    ).toBe(true);
  });

  it("takes the reviewer from a trusted proxy header only when configured", async () => {
    const auth = resolvePortalAuth({ env: { SQUADFLOW_PORTAL_TRUSTED_HEADER: "X-Forwarded-User" } });
    expect(auth.trustedHeader).toBe("x-forwarded-user");
    expect(auth.localToken).toBeUndefined();
    // The test portal has no trusted header: the header alone is no identity.
    expect((await fetch(`${portal.url}/api/me`, { headers: { "x-forwarded-user": "mallory" } })).status).toBe(401);
    const proxied = await testPortal({ auth });
    try {
      const me = await fetch(`${proxied.url}/api/me`, { headers: { "x-forwarded-user": "ana" } });
      expect(await me.json()).toMatchObject({ reviewer: "ana", role: "reviewer", via: "proxy" });
      // The proxy header is as ambient as a cookie: a state change still needs the page's CSRF token.
      expect(
        (await fetch(`${proxied.url}${REVIEW}`, { method: "POST", headers: json({ "x-forwarded-user": "ana" }), body }))
          .status,
      ).toBe(403);
      expect((await fetch(`${proxied.url}/api/me`)).status).toBe(401);
    } finally {
      await proxied.close();
    }
  });

  it("reads hashed tokens from a file and names the file and line of a bad entry", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portal-auth-"));
    const file = join(dir, "tokens");
    await writeFile(
      file,
      `# reviewers\nana reviewer ${hashToken("ana-secret-1")}\nbot viewer ${hashToken("bot-secret-2")}\n`,
    );
    const auth = resolvePortalAuth({ env: {}, tokensFile: file });
    expect([...auth.tokens.values()]).toEqual([
      { reviewer: "ana", role: "reviewer" },
      { reviewer: "bot", role: "viewer" },
    ]);
    await writeFile(file, `ana reviewer ${hashToken("x")}\nbob admin ${hashToken("y")}\n`);
    expect(() => resolvePortalAuth({ env: {}, tokensFile: file })).toThrow(
      new PortalConfigError(`${file}:2: role must be "reviewer" or "viewer", not "admin"`),
    );
    expect(() => resolvePortalAuth({ env: { SQUADFLOW_PORTAL_TOKENS: "ana:short" } })).toThrow(
      /entry 1 \(ana\): the token must have at least 8 characters/,
    );
  });

  it("sends a Content-Security-Policy that runs no script but its own, and Secure cookies behind a TLS proxy", async () => {
    const res = await fetch(`${portal.url}/login`, { headers: { "x-forwarded-proto": "https" } });
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.getSetCookie().every((c) => /; Secure/i.test(c))).toBe(true);
    const plain = await fetch(`${portal.url}/login`);
    expect(plain.headers.getSetCookie().some((c) => /; Secure/i.test(c))).toBe(false);
  });

  it("makes a local token for the OS user when nothing is configured", () => {
    const auth = resolvePortalAuth({ env: {} });
    expect(auth.localToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(auth.tokens.get(hashToken(auth.localToken!))?.role).toBe("reviewer");
  });
});
