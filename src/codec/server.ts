/**
 * A codec server for the Temporal Web UI and CLI (the "Codec Server protocol"): `POST /encode` and
 * `POST /decode` (also `/<namespace>/encode|decode`, for the CLI's `--codec-endpoint` templating), each taking
 * and returning `{ "payloads": [ { "metadata": { "<key>": "<base64>" }, "data": "<base64>" } ] }` — proto3 JSON of
 * `temporal.api.common.v1.Payload`, every bytes value base64.
 *
 * With encryption on, start it next to the dev server and point the UI at it:
 *   temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081
 * (the browser calls it directly, hence CORS for the UI's origin, with `X-Namespace` and `Authorization` headers
 * allowed and OPTIONS preflights answered). Bound to 127.0.0.1 by default: it decrypts for whoever can reach it.
 *
 * Run on its own: `SQUADFLOW_CODEC_KEY=… SQUADFLOW_CODEC_KEY_ID=… npx tsx src/codec/server.ts [--port 8081] [--origin URL]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Payload, PayloadCodec } from "@temporalio/common";
import { z } from "zod";
import { codecFromEnv } from "./aes-gcm.js";

/** Default codec server port (the Web UI of the dev server is on 8233). */
export const DEFAULT_CODEC_SERVER_PORT = 8081;
/** Origins of the dev server's Web UI, allowed by default. */
export const DEFAULT_UI_ORIGINS = ["http://localhost:8233", "http://127.0.0.1:8233"];
/** Largest accepted request body, bytes (Temporal's own payload limit is 2 MiB per payload; a request holds several). */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Options of `startCodecServer`. */
export interface CodecServerOptions {
  /** The codec both endpoints run (e.g. `codecFromEnv()`). */
  codec: PayloadCodec;
  /** TCP port; `0` picks a free one (see `url`). Default 8081. */
  port?: number;
  /**
   * Interface to bind. Default `127.0.0.1`: the server decrypts for anyone who can reach it. On a loopback
   * interface, requests whose `Host` is not loopback are refused (403), against DNS rebinding.
   */
  host?: string;
  /**
   * Browser origin(s) allowed by CORS, e.g. `http://localhost:8233`; `'*'` allows any (without credentials). Default: the dev server UI
   * on localhost and 127.0.0.1, port 8233.
   */
  origin?: string | string[];
  /** Largest request body, bytes (default 16 MiB); larger requests get 413. */
  maxBodyBytes?: number;
}

/** A running codec server. */
export interface CodecServer {
  /** Base URL, e.g. `http://127.0.0.1:8081` — what `--ui-codec-endpoint` takes. */
  url: string;
  /** The bound port. */
  port: number;
  /** Stops accepting connections and closes open ones; resolves when the server is closed. */
  close(): Promise<void>;
}

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");
/** Request body: proto3 JSON payloads. Other payload fields (e.g. `externalPayloads`) are ignored. */
const RequestSchema = z.object({
  payloads: z.array(
    z.looseObject({
      metadata: z.record(z.string(), Base64).nullish(),
      data: Base64.nullish(),
    }),
  ),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function fromJson(p: z.infer<typeof RequestSchema>["payloads"][number]): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, "base64");
  return { metadata, data: Buffer.from(p.data ?? "", "base64") };
}

function toJson(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString("base64");
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString("base64") };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Whether a Host header names a loopback address (any port). */
function isLoopbackHost(header: string | undefined): boolean {
  if (!header) return false;
  const name = header.startsWith("[") ? header.slice(1, header.indexOf("]")) : header.replace(/:\d+$/, "");
  return LOOPBACK.has(name.toLowerCase());
}

/** `encode` / `decode` for `/encode`, `/decode`, `/<namespace>/encode`, `/<namespace>/decode`; else undefined. */
function routeOf(url: string | undefined): "encode" | "decode" | undefined {
  const path = new URL(url ?? "/", "http://codec").pathname;
  const m = /^(?:\/[^/]+)?\/(encode|decode)\/?$/.exec(path);
  return m ? (m[1] as "encode" | "decode") : undefined;
}

/**
 * Starts the codec server and resolves once it listens.
 * Responses: 200 `{ payloads }`; 400 `{ error }` for a body that is not `{ payloads: [...] }` proto3 JSON or a payload
 * the codec cannot decode (e.g. unknown key id); 404 unknown path; 405 other methods; 413 body too large.
 * @throws the listen error (e.g. `EADDRINUSE`) when the port cannot be bound.
 */
export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const { codec } = opts;
  const host = opts.host ?? "127.0.0.1";
  const origins = new Set(typeof opts.origin === "string" ? [opts.origin] : (opts.origin ?? DEFAULT_UI_ORIGINS));
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const loopback = LOOPBACK.has(host);
  let urlOf = () => "";

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    res.setHeader("Vary", "Origin");
    if (origin && origins.has(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      // The UI sends cookies / the access token when "pass access token" is on.
      res.setHeader("Access-Control-Allow-Credentials", "true");
    } else if (origin && origins.has("*")) {
      // Any origin, but never with credentials.
      res.setHeader("Access-Control-Allow-Origin", "*");
    }
    if (res.hasHeader("Access-Control-Allow-Origin")) {
      res.setHeader("Access-Control-Allow-Methods", "POST, OPTIONS");
      res.setHeader("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization");
      res.setHeader("Access-Control-Max-Age", "600");
    }
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    cors(req, res);
    // Bound to loopback, answer only requests addressed to loopback: a web page that re-points its own host name
    // at 127.0.0.1 (DNS rebinding) sends its own name as Host, and gets nothing decrypted.
    if (loopback && !isLoopbackHost(req.headers.host))
      throw new HttpError(403, `Host "${req.headers.host ?? ""}" refused: use ${urlOf()}`);
    const route = routeOf(req.url);
    if (!route) throw new HttpError(404, `unknown path ${req.url}; use POST /encode or POST /decode`);
    if (req.method === "OPTIONS") {
      res.statusCode = 204;
      res.end();
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST, OPTIONS");
      throw new HttpError(405, `${req.method} not allowed; use POST`);
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req, limit));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = RequestSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(body)"}: ${i.message}`);
      throw new HttpError(
        400,
        `expected { "payloads": [ { "metadata": { key: base64 }, "data": base64 } ] }: ${problems.join("; ")}`,
      );
    }
    const payloads = parsed.data.payloads.map(fromJson);
    let out: Payload[];
    try {
      out = route === "encode" ? await codec.encode(payloads) : await codec.decode(payloads);
    } catch (err) {
      throw new HttpError(400, `${route} failed: ${(err as Error).message}`);
    }
    send(res, 200, { payloads: out.map(toJson) });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) send(res, status, { error: (err as Error).message });
      else res.destroy();
      // Drain what the client still sends (e.g. after a 413) so the socket closes cleanly.
      req.resume();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? DEFAULT_CODEC_SERVER_PORT, host, () => {
      server.off("error", fail);
      ok();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  urlOf = () => `http://${urlHost}:${port}`;
  return {
    url: urlOf(),
    port,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((err) => (err ? fail(err) : ok()));
        server.closeAllConnections();
      }),
  };
}

/** `tsx src/codec/server.ts [--port N] [--host H] [--origin URL]…`: serves the codec configured by the environment. */
async function runStandalone(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const values: string[] = [];
    argv.forEach((a, i) => a === name && argv[i + 1] !== undefined && values.push(argv[i + 1]!));
    return values;
  };
  const codec = codecFromEnv();
  if (!codec) {
    console.error(
      "squadflow codec server: no key configured (set SQUADFLOW_CODEC_KEY + SQUADFLOW_CODEC_KEY_ID, or SQUADFLOW_CODEC_KEY_FILE)",
    );
    process.exit(2);
  }
  const port = arg("--port")[0];
  const origin = arg("--origin");
  const server = await startCodecServer({
    codec,
    port: port === undefined ? undefined : Number(port),
    host: arg("--host")[0],
    origin: origin.length > 0 ? origin : undefined,
  });
  console.log(
    `squadflow codec server on ${server.url} (key ids: ${codec.keyIds().join(", ")}; current ${codec.currentKeyId})`,
  );
  console.log(`  temporal server start-dev --ui-codec-endpoint ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  runStandalone(process.argv.slice(2)).catch((err: Error) => {
    console.error(`squadflow codec server: ${err.message}`);
    process.exit(1);
  });
}
