/**
 * The codec server over real HTTP (fetch): encode and decode in proto3 JSON, CORS for the Web UI (preflight
 * included), and clear 4xx answers for bad requests.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { defaultPayloadConverter, type Payload } from "@temporalio/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AesGcmPayloadCodec } from "../../src/codec/aes-gcm.js";
import { startCodecServer, type CodecServer } from "../../src/codec/server.js";

const UI = "http://localhost:8233";
const b64 = (s: string) => Buffer.from(s).toString("base64");

function toJson(p: Payload) {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v!).toString("base64");
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString("base64") };
}

describe("codec server", () => {
  const codec = new AesGcmPayloadCodec({ keys: [{ id: "k1", key: randomBytes(32) }] });
  let server: CodecServer;

  beforeAll(async () => {
    server = await startCodecServer({ codec, port: 0, origin: UI });
  });
  afterAll(async () => {
    await server.close();
  });

  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: UI, "X-Namespace": "default", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  it("listens on 127.0.0.1 by default", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("encodes what the UI sends and decodes it back (proto3 JSON, base64 bytes)", async () => {
    const plain = { metadata: { encoding: b64("json/plain") }, data: b64('{"secret":"hunter2"}') };
    const enc = await post("/encode", { payloads: [plain] });
    expect(enc.status).toBe(200);
    expect(enc.headers.get("access-control-allow-origin")).toBe(UI);
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(encoded.payloads).toHaveLength(1);
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, "base64").toString()).toBe("binary/encrypted");
    expect(Buffer.from(encoded.payloads[0]!.metadata["encryption-key-id"]!, "base64").toString()).toBe("k1");
    expect(Buffer.from(encoded.payloads[0]!.data, "base64").includes(Buffer.from("hunter2"))).toBe(false);

    const dec = await post("/decode", encoded);
    expect(dec.status).toBe(200);
    expect(await dec.json()).toEqual({ payloads: [plain] });
  });

  it("decodes payloads the SDK encrypted, and passes plain ones through", async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ card: "BE-002", reason: "ledger" })]);
    const plain = toJson(defaultPayloadConverter.toPayload("not encrypted"));
    const res = await post("/default/decode", { payloads: [toJson(enc!), plain] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(JSON.parse(Buffer.from(body.payloads[0]!.data, "base64").toString())).toEqual({
      card: "BE-002",
      reason: "ledger",
    });
    expect(body.payloads[1]).toEqual(plain);
  });

  it("answers the CORS preflight of the UI origin, allowing X-Namespace", async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: "OPTIONS",
      headers: {
        Origin: UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(UI);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-namespace");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
  });

  it("gives no CORS headers to another origin", async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: "OPTIONS",
      headers: { Origin: "http://evil.example", "Access-Control-Request-Method": "POST" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const post2 = await post("/decode", { payloads: [] }, { Origin: "http://evil.example" });
    expect(post2.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a request addressed to another host name (DNS rebinding) with 403", async () => {
    const { port } = new URL(server.url);
    const status = await new Promise<number>((ok, fail) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/decode",
          method: "POST",
          headers: { Host: `evil.example:${port}`, "Content-Type": "application/json" },
        },
        (res) => {
          res.resume();
          ok(res.statusCode ?? 0);
        },
      );
      req.on("error", fail);
      req.end(JSON.stringify({ payloads: [] }));
    });
    expect(status).toBe(403);
    expect((await post("/decode", { payloads: [] }, { Origin: UI })).status).toBe(200);
  });

  it('with origin "*", allows any origin but never with credentials', async () => {
    const open = await startCodecServer({ codec, port: 0, origin: "*" });
    try {
      const res = await fetch(`${open.url}/decode`, {
        method: "OPTIONS",
        headers: { Origin: "http://anywhere.example", "Access-Control-Request-Method": "POST" },
      });
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    } finally {
      await open.close();
    }
  });

  it("refuses bad requests with 4xx and a JSON error", async () => {
    const cases: [() => Promise<Response>, number, RegExp][] = [
      [() => post("/decode", "not json"), 400, /not valid JSON/],
      [() => post("/decode", { nope: [] }), 400, /payloads/],
      [() => post("/decode", { payloads: [{ data: "***" }] }), 400, /payloads\.0\.data: must be base64/],
      [() => post("/elsewhere", { payloads: [] }), 404, /unknown path/],
      [() => fetch(`${server.url}/decode`), 405, /GET not allowed/],
    ];
    for (const [send, status, message] of cases) {
      const res = await send();
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
  });

  it("says which key it lacks when asked to decode a payload of an unknown key", async () => {
    const other = new AesGcmPayloadCodec({ keys: [{ id: "retired", key: randomBytes(32) }] });
    const [enc] = await other.encode([defaultPayloadConverter.toPayload("x")]);
    const res = await post("/decode", { payloads: [toJson(enc!)] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/unknown encryption key id "retired"/);
  });

  it("refuses a body over the size limit with 413", async () => {
    const small = await startCodecServer({ codec, port: 0, maxBodyBytes: 1024 });
    try {
      const res = await fetch(`${small.url}/encode`, {
        method: "POST",
        body: JSON.stringify({ payloads: [{ data: b64("x".repeat(4096)) }] }),
      });
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});
