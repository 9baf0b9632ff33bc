/**
 * The review portal (issue 13): a Hono app served by @hono/node-server — pages, a JSON API under `/api`,
 * live fragments over Server-Sent Events. It reads Temporal through the CLI's readers (src/portal/data.ts)
 * and writes only through the CLI's updates (human review, retry, skip, pause/resume, cancel, start), with
 * the authenticated reviewer as the audited actor. No database: sessions live in memory.
 *
 * Security (docs/portal.md): every route but /login and the script needs an identity (401 for the API, a
 * redirect for pages); a state-changing request is a POST from a `reviewer` (403 for a viewer or in
 * read-only mode), and one made with a cookie or proxy identity must carry the page's CSRF token
 * (double-submit cookie) and, when the browser sends one, a same-origin `Origin` (403 otherwise).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Client } from "@temporalio/client";
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import { BacklogValidationError, parseOpsDecision } from "../domain/index.js";
import { readBacklogView, reviewCard, type BacklogQueues } from "../cli/backlogs.js";
import { readAttemptDiff, type AttemptDiff } from "../cli/diff.js";
import { CliError, EXIT } from "../cli/errors.js";
import { readCardHistory } from "../cli/history.js";
import { metricsReport } from "../cli/metrics.js";
import { cancel, retryCard, setBacklogPaused, skipCard } from "../cli/ops.js";
import {
  csrfMatches,
  identityOfToken,
  newCsrfToken,
  SessionStore,
  type PortalAuthConfig,
  type PortalIdentity,
} from "./auth.js";
import { countAwaitingHuman, listBacklogs, readPortalBoard, readReviewQueue } from "./data.js";
import { SharedPoller } from "./live.js";
import { metricsPage } from "./metrics-view.js";
import { startFromPage } from "./start.js";
import { startForm } from "./start-view.js";
import {
  backlogsPage,
  boardFragment,
  boardPage,
  cardPage,
  errorPage,
  loginPage,
  reviewFragment,
  reviewPage,
  type Fragment,
  type PageContext,
} from "./views.js";

/** Options of {@link createPortalApp}. */
export interface PortalOptions {
  client: Client;
  auth: PortalAuthConfig;
  /** Nobody may change anything (every state-changing route answers 403). */
  readOnly?: boolean;
  /** Base URL of the Temporal UI for links (e.g. `http://127.0.0.1:8233`); absent: no links. */
  temporalUi?: string;
  /** How often a watched board (or the review queue) is re-read from Temporal, ms (default 500); one read per interval however many pages watch it. */
  pollMs?: number;
  /** Task queues a backlog started from the page uses (default: src/temporal/queues.ts). */
  queues?: BacklogQueues;
  /** Where the worker clones URL repositories (for diffs; default as `squadflow diff`). */
  reposRoot?: string;
  /**
   * The folder backlog files, plans and squad files started from the page must be in (default: the working
   * directory), so that the form cannot be used to read other files of the server through validation
   * messages; a plan's backlog is written beside the plan (src/portal/start.ts).
   */
  backlogRoot?: string;
  /** Where the portal logs what Temporal does not record (who cancelled, and why); default stderr. */
  log?: (line: string) => void;
}

const SESSION_COOKIE = "squadflow_session";
const CSRF_COOKIE = "squadflow_csrf";
const SCRIPT = readFileSync(new URL("./assets/portal.js", import.meta.url), "utf8");
/** highlight.js's theme for the diffs of the card page, served from node_modules. */
const HIGHLIGHT_CSS = readFileSync(
  createRequire(import.meta.url).resolve("highlight.js/styles/github-dark.css"),
  "utf8",
);

type Env = { Variables: { identity?: PortalIdentity; csrf: string } };

/** An API error: the message, and for an invalid backlog its issues. */
function errorStatus(err: unknown): { status: 400 | 404 | 409 | 500 | 503; body: { error: string; issues?: unknown } } {
  if (err instanceof BacklogValidationError) return { status: 400, body: { error: err.message, issues: err.issues } };
  if (err instanceof CliError) {
    if (err.exitCode === EXIT.unavailable) return { status: 503, body: { error: err.message } };
    if (err.exitCode === EXIT.badInput) {
      const status = err.message.startsWith("refused") ? 409 : err.message.startsWith("unknown") ? 404 : 400;
      return { status, body: { error: err.message } };
    }
  }
  return { status: 500, body: { error: (err as Error).message ?? String(err) } };
}

/**
 * Builds the portal's Hono app (no socket: see {@link startPortal}). `stop` aborts the open SSE streams.
 */
export function createPortalApp(opts: PortalOptions): { app: Hono<Env>; stop: () => void } {
  const { client, auth } = opts;
  const readOnly = opts.readOnly === true;
  const sessions = new SessionStore();
  const pollMs = opts.pollMs ?? 500;
  const streams = new AbortController();
  const namespace = client.options.namespace;
  const log = opts.log ?? ((line: string) => console.error(line));
  const backlogRoot = resolve(opts.backlogRoot ?? process.cwd());
  const app = new Hono<Env>();

  const ctxOf = (c: Context<Env>): PageContext => ({
    identity: c.get("identity"),
    csrf: c.get("csrf"),
    readOnly,
    namespace,
    ...(opts.temporalUi ? { temporalUi: opts.temporalUi } : {}),
  });
  const page = (c: Context<Env>, body: Fragment, status: 200 | 400 | 404 | 500 | 503 = 200) => c.html(body, status);

  // Defence in depth behind the escaping: no script but the portal's own file runs, nothing frames the page.
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    }),
  );

  // The CSRF cookie (double submit) and who is asking.
  app.use("*", async (c, next) => {
    let csrf = getCookie(c, CSRF_COOKIE);
    if (!csrf || csrf.length < 20) {
      csrf = newCsrfToken();
      setCookie(c, CSRF_COOKIE, csrf, { httpOnly: true, sameSite: "Strict", path: "/", secure: overHttps(c) });
    }
    c.set("csrf", csrf);
    const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    const proxied = auth.trustedHeader ? c.req.header(auth.trustedHeader)?.trim() : undefined;
    const identity =
      sessions.get(getCookie(c, SESSION_COOKIE)) ??
      (bearer ? identityOfToken(auth, bearer, "bearer") : undefined) ??
      (proxied ? { reviewer: proxied, role: "reviewer" as const, via: "proxy" as const } : undefined);
    if (identity) c.set("identity", identity);
    await next();
  });

  app.get("/assets/portal.js", (c) =>
    c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" }),
  );
  app.get("/assets/highlight.css", (c) =>
    c.body(HIGHLIGHT_CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "max-age=3600" }),
  );

  const login = (c: Context<Env>, token: string | undefined) => {
    const identity = token ? identityOfToken(auth, token, "session") : undefined;
    if (!identity) return page(c, loginPage(ctxOf(c), token ? "Unknown token." : undefined), token ? 400 : 200);
    setCookie(c, SESSION_COOKIE, sessions.open(identity), {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: overHttps(c),
    });
    return c.redirect("/", 303);
  };
  // `GET /login?token=…` is the login URL `dev` and `portal` print; the page's own form posts.
  app.get("/login", (c) => login(c, c.req.query("token")));
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    if (!sameOrigin(c) || !csrfMatches(c.get("csrf"), String(form._csrf ?? "")))
      return c.text("CSRF check failed", 403);
    return login(c, typeof form.token === "string" ? form.token : undefined);
  });
  app.post("/logout", async (c) => {
    const form = await c.req.parseBody();
    if (!sameOrigin(c) || !csrfMatches(c.get("csrf"), String(form._csrf ?? "")))
      return c.text("CSRF check failed", 403);
    sessions.close(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login", 303);
  });

  // Everything else needs an identity; state changes need a reviewer, the CSRF token and a same origin.
  app.use("*", async (c, next) => {
    const identity = c.get("identity");
    const api = c.req.path.startsWith("/api/");
    if (!identity)
      return api ? c.json({ error: "authentication required (docs/portal.md)" }, 401) : c.redirect("/login", 303);
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      if (readOnly) return c.json({ error: "the portal is read-only" }, 403);
      if (identity.role !== "reviewer") return c.json({ error: `${identity.reviewer} is a viewer: read-only` }, 403);
      if (identity.via !== "bearer") {
        if (!sameOrigin(c)) return c.json({ error: "cross-origin request refused" }, 403);
        if (!csrfMatches(c.get("csrf"), c.req.header("x-csrf-token")))
          return c.json({ error: "CSRF token missing or wrong; reload the page" }, 403);
      }
    }
    await next();
  });

  // ---- JSON API ----
  const reviewer = (c: Context<Env>) => c.get("identity")!.reviewer;
  const body = async (c: Context<Env>): Promise<Record<string, unknown>> => {
    const b = await c.req.json().catch(() => undefined);
    if (!b || typeof b !== "object" || Array.isArray(b)) throw new CliError("the request body must be a JSON object");
    return b as Record<string, unknown>;
  };
  const decision = (b: Record<string, unknown>, c: Context<Env>) => {
    try {
      return parseOpsDecision({ reviewer: reviewer(c), reason: b.reason });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  };
  const api = (fn: (c: Context<Env>) => Promise<unknown>) => async (c: Context<Env>) => {
    try {
      return c.json((await fn(c)) as object);
    } catch (err) {
      const { status, body: b } = errorStatus(err);
      return c.json(b, status);
    }
  };

  app.get(
    "/api/me",
    api(async (c) => ({ ...c.get("identity")!, readOnly })),
  );
  app.get(
    "/api/backlogs",
    api(async () => ({ backlogs: await listBacklogs(client) })),
  );
  app.get(
    "/api/backlogs/:backlogId",
    api(async (c) => readPortalBoard(client, param(c, "backlogId"))),
  );
  app.get(
    "/api/backlogs/:backlogId/metrics",
    api(async (c) => metricsReport(await readBacklogView(client, param(c, "backlogId")))),
  );
  app.get(
    "/api/review-queue",
    api(async (c) => ({ cards: await readReviewQueue(client, c.req.query("backlog") || undefined) })),
  );
  app.get(
    "/api/backlogs/:backlogId/cards/:cardId",
    api(async (c) => readCardHistory(client, param(c, "backlogId"), param(c, "cardId"))),
  );
  app.get(
    "/api/backlogs/:backlogId/cards/:cardId/diff",
    api(async (c) => {
      const attempt = c.req.query("attempt") ? Number(c.req.query("attempt")) : undefined;
      return readAttemptDiff(client, param(c, "backlogId"), param(c, "cardId"), { attempt, reposRoot: opts.reposRoot });
    }),
  );

  app.post(
    "/api/backlogs",
    api(async (c) => startFromPage(client, backlogRoot, await body(c), opts.queues)),
  );
  app.post(
    "/api/backlogs/:backlogId/cards/:cardId/review",
    api(async (c) => {
      const b = await body(c);
      const backlogId = param(c, "backlogId");
      const cardId = param(c, "cardId");
      const entry = await reviewCard(client, backlogId, cardId, {
        decision: b.decision,
        reviewer: reviewer(c),
        reason: b.reason,
        ...(b.context !== undefined ? { context: b.context } : {}),
      });
      return { backlogId, cardId, decision: b.decision, entry };
    }),
  );
  // A Temporal cancellation carries no reason: who cancelled what and why goes to the portal's log.
  const cancelled = (d: { reviewer: string; reason: string }, workflowId: string) => {
    log(
      JSON.stringify({
        event: "portal.cancel",
        at: new Date().toISOString(),
        workflowId,
        reviewer: d.reviewer,
        reason: d.reason,
      }),
    );
    return { cancelled: workflowId, reviewer: d.reviewer, reason: d.reason };
  };
  for (const kind of ["retry", "skip"] as const) {
    app.post(
      `/api/backlogs/:backlogId/cards/:cardId/${kind}`,
      api(async (c) => {
        const d = decision(await body(c), c);
        const backlogId = param(c, "backlogId");
        const cardId = param(c, "cardId");
        return {
          backlogId,
          cardId,
          entry: await (kind === "retry" ? retryCard : skipCard)(client, backlogId, cardId, d),
        };
      }),
    );
  }
  app.post(
    "/api/backlogs/:backlogId/cards/:cardId/cancel",
    api(async (c) => {
      const d = decision(await body(c), c);
      return cancelled(d, await cancel(client, param(c, "backlogId"), param(c, "cardId")));
    }),
  );
  for (const paused of [true, false]) {
    app.post(
      `/api/backlogs/:backlogId/${paused ? "pause" : "resume"}`,
      api(async (c) => ({
        entry: await setBacklogPaused(client, param(c, "backlogId"), paused, decision(await body(c), c)),
      })),
    );
  }
  app.post(
    "/api/backlogs/:backlogId/cancel",
    api(async (c) => {
      const d = decision(await body(c), c);
      return cancelled(d, await cancel(client, param(c, "backlogId")));
    }),
  );

  // One Temporal read loop per watched backlog (and one for the review queue), shared by every open page.
  const boards = SharedPoller.every(pollMs, (backlogId) => readPortalBoard(client, backlogId));
  const queue = SharedPoller.every(pollMs, (backlogId) => readReviewQueue(client, backlogId || undefined));

  /** Streams a watched value as SSE: `json` and `html` events on every change, `problem` when a read failed. */
  const live = <T>(c: Context<Env>, poller: SharedPoller<T>, key: string, render: (value: T) => Fragment) =>
    streamSSE(c, async (stream) => {
      let writes = Promise.resolve();
      const unsubscribe = poller.subscribe(key, (u) => {
        writes = writes
          .then(async () => {
            if (u.error !== undefined)
              return stream.writeSSE({ event: "problem", data: errorStatus(u.error).body.error });
            await stream.writeSSE({ event: "json", data: JSON.stringify(u.value) });
            await stream.writeSSE({ event: "html", data: render(u.value as T).toString() });
          })
          .catch(() => undefined);
      });
      let onStop = () => undefined as void;
      await new Promise<void>((resolve) => {
        onStop = resolve;
        stream.onAbort(resolve);
        streams.signal.addEventListener("abort", onStop, { once: true });
      });
      streams.signal.removeEventListener("abort", onStop);
      unsubscribe();
    });
  app.get("/api/backlogs/:backlogId/events", (c) => live(c, boards, param(c, "backlogId"), boardFragment));
  app.get("/api/review-queue/events", (c) =>
    live(c, queue, c.req.query("backlog") ?? "", (items) => reviewFragment(ctxOf(c), items)),
  );

  // ---- pages ----
  const pageError = (c: Context<Env>, title: string, err: unknown) => {
    const { status, body: b } = errorStatus(err);
    return page(c, errorPage(ctxOf(c), title, b.error), status === 409 ? 400 : status);
  };
  app.get("/", async (c) => {
    try {
      const [backlogs, waiting] = await Promise.all([listBacklogs(client), countAwaitingHuman(client)]);
      return page(c, backlogsPage(ctxOf(c), backlogs, waiting, startForm(ctxOf(c))));
    } catch (err) {
      return pageError(c, "Backlogs", err);
    }
  });
  app.get("/review", async (c) => {
    try {
      const backlogId = c.req.query("backlog") || undefined;
      return page(c, reviewPage(ctxOf(c), await readReviewQueue(client, backlogId), backlogId));
    } catch (err) {
      return pageError(c, "Human review", err);
    }
  });
  app.get("/backlogs/:backlogId", async (c) => {
    try {
      return page(c, boardPage(ctxOf(c), await readPortalBoard(client, param(c, "backlogId"))));
    } catch (err) {
      return pageError(c, `Backlog ${param(c, "backlogId")}`, err);
    }
  });
  app.get("/backlogs/:backlogId/metrics", async (c) => {
    try {
      const view = await readBacklogView(client, param(c, "backlogId"));
      return page(c, metricsPage(ctxOf(c), metricsReport(view), view));
    } catch (err) {
      return pageError(c, `Metrics of ${param(c, "backlogId")}`, err);
    }
  });
  app.get("/backlogs/:backlogId/cards/:cardId", async (c) => {
    const backlogId = param(c, "backlogId");
    const cardId = param(c, "cardId");
    try {
      const hist = await readCardHistory(client, backlogId, cardId);
      let diff: { value?: AttemptDiff; error?: string } = {};
      if (hist.repository) {
        diff = await readAttemptDiff(client, backlogId, cardId, { reposRoot: opts.reposRoot }).then(
          (value) => ({ value }),
          (err: Error) => ({ error: err.message }),
        );
      } else diff = { error: "this backlog does not deliver into a repository: no diff" };
      return page(c, cardPage(ctxOf(c), hist, diff));
    } catch (err) {
      return pageError(c, `Card ${cardId}`, err);
    }
  });

  return {
    app,
    stop: () => {
      streams.abort();
      boards.close();
      queue.close();
    },
  };
}

/** True when the browser reached the portal over HTTPS (directly, or through a TLS proxy that says so). */
function overHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}

/** A route parameter (Hono has decoded it); '' when absent. */
function param(c: Context, name: string): string {
  return c.req.param(name) ?? "";
}

/** True unless the browser said the request comes from another origin (`Origin` or `Sec-Fetch-Site`). */
function sameOrigin(c: Context): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) return false;
  const site = c.req.header("sec-fetch-site");
  return site === undefined || site === "same-origin" || site === "none";
}

/** A running portal. */
export interface PortalHandle {
  /** `http://host:port` it listens on. */
  url: string;
  port: number;
  /** Stops the SSE streams and the server. */
  close(): Promise<void>;
}

/**
 * Serves the portal on `host:port` (port 0: a free one).
 * @throws Error when the port cannot be bound (e.g. EADDRINUSE), naming host and port.
 */
export async function startPortal(opts: PortalOptions & { port: number; host: string }): Promise<PortalHandle> {
  const { app, stop } = createPortalApp(opts);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, () => resolve(s));
    s.once("error", (err: Error) =>
      reject(new Error(`portal: cannot listen on ${opts.host}:${opts.port}: ${err.message}`)),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}
