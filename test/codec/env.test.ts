/**
 * Codec configuration from the environment: one key + id, or a key file with several keys (rotation); every
 * mistake is a CodecConfigError that names the variable or file and never prints a key.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultPayloadConverter } from "@temporalio/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AesGcmPayloadCodec,
  CodecConfigError,
  ENCRYPTED_FAILURE_CONVERTER_PATH,
  codecFromEnv,
  dataConverterFromEnv,
  keyringFromEnv,
} from "../../src/codec/aes-gcm.js";

const b64 = (n: number) => randomBytes(n).toString("base64");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squadflow-codec-env-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFile(content: unknown, name = `keys-${Math.random().toString(36).slice(2)}.json`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function configError(fn: () => unknown): CodecConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CodecConfigError);
    return err as CodecConfigError;
  }
  throw new Error("expected a CodecConfigError");
}

describe("codecFromEnv", () => {
  it("is off (undefined) when no key is configured, or the variables are empty", () => {
    expect(codecFromEnv({})).toBeUndefined();
    expect(
      codecFromEnv({ SQUADFLOW_CODEC_KEY: "", SQUADFLOW_CODEC_KEY_ID: " ", SQUADFLOW_CODEC_KEY_FILE: "" }),
    ).toBeUndefined();
    expect(dataConverterFromEnv({})).toBeUndefined();
  });

  it("builds a codec from SQUADFLOW_CODEC_KEY + SQUADFLOW_CODEC_KEY_ID", async () => {
    const codec = codecFromEnv({ SQUADFLOW_CODEC_KEY: b64(32), SQUADFLOW_CODEC_KEY_ID: "2025-06" })!;
    expect(codec).toBeInstanceOf(AesGcmPayloadCodec);
    expect(codec.currentKeyId).toBe("2025-06");
    const [p] = await codec.decode(await codec.encode([defaultPayloadConverter.toPayload("hi")]));
    expect(defaultPayloadConverter.fromPayload(p!)).toBe("hi");
  });

  it("accepts a base64url key", () => {
    const key = randomBytes(32).toString("base64url");
    expect(keyringFromEnv({ SQUADFLOW_CODEC_KEY: key, SQUADFLOW_CODEC_KEY_ID: "k" })!.keys[0]!.key).toEqual(
      Buffer.from(key, "base64url"),
    );
  });

  it("dataConverterFromEnv gives the codec and the failure converter that encodes failure messages", async () => {
    const dc = dataConverterFromEnv({ SQUADFLOW_CODEC_KEY: b64(32), SQUADFLOW_CODEC_KEY_ID: "k1" })!;
    expect(dc.payloadCodecs).toHaveLength(1);
    expect(dc.payloadCodecs![0]).toBeInstanceOf(AesGcmPayloadCodec);
    expect(dc.failureConverterPath).toBe(ENCRYPTED_FAILURE_CONVERTER_PATH);
    const { failureConverter } = (await import(dc.failureConverterPath!)) as {
      failureConverter: { options: { encodeCommonAttributes: boolean } };
    };
    expect(failureConverter.options.encodeCommonAttributes).toBe(true);
  });

  it("refuses a key that is not 32 bytes, saying how long it is and never printing it", () => {
    const key = b64(16);
    const err = configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY: key, SQUADFLOW_CODEC_KEY_ID: "k1" }));
    expect(err.message).toBe("SQUADFLOW_CODEC_KEY is 16 bytes; AES-256 needs exactly 32 (`openssl rand -base64 32`)");
    expect(err.message).not.toContain(key);
  });

  it("refuses a key that is not base64", () => {
    const err = configError(() =>
      codecFromEnv({ SQUADFLOW_CODEC_KEY: "not base64 at all!", SQUADFLOW_CODEC_KEY_ID: "k1" }),
    );
    expect(err.message).toMatch(/^SQUADFLOW_CODEC_KEY is not base64/);
    expect(err.message).not.toContain("not base64 at all!");
  });

  it("refuses a key without its id, an id without its key, and an id that cannot go into metadata", () => {
    expect(configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY: b64(32) })).message).toMatch(
      /SQUADFLOW_CODEC_KEY is set but SQUADFLOW_CODEC_KEY_ID is not/,
    );
    expect(configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY_ID: "k1" })).message).toMatch(
      /SQUADFLOW_CODEC_KEY_ID is set but SQUADFLOW_CODEC_KEY is not/,
    );
    expect(
      configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY: b64(32), SQUADFLOW_CODEC_KEY_ID: "k 1" })).message,
    ).toMatch(/SQUADFLOW_CODEC_KEY_ID "k 1" must be/);
  });

  it("refuses a key and a key file at the same time", async () => {
    const file = await keyFile({ keys: [{ id: "a", key: b64(32) }] });
    expect(
      configError(() =>
        codecFromEnv({ SQUADFLOW_CODEC_KEY: b64(32), SQUADFLOW_CODEC_KEY_ID: "k", SQUADFLOW_CODEC_KEY_FILE: file }),
      ).message,
    ).toMatch(/not both/);
  });
});

describe("codecFromEnv with SQUADFLOW_CODEC_KEY_FILE", () => {
  it('loads several keys; "current" encrypts and every key decrypts', async () => {
    const k1 = b64(32);
    const file1 = await keyFile({ keys: [{ id: "k1", key: k1 }] });
    const [old] = await codecFromEnv({ SQUADFLOW_CODEC_KEY_FILE: file1 })!.encode([
      defaultPayloadConverter.toPayload("old"),
    ]);
    const file2 = await keyFile({
      keys: [
        { id: "k1", key: k1 },
        { id: "k2", key: b64(32) },
      ],
      current: "k2",
    });
    const codec = codecFromEnv({ SQUADFLOW_CODEC_KEY_FILE: file2 })!;
    expect(codec.keyIds()).toEqual(["k1", "k2"]);
    expect(codec.currentKeyId).toBe("k2");
    const [p] = await codec.decode([old!]);
    expect(defaultPayloadConverter.fromPayload(p!)).toBe("old");
  });

  it('uses the last key when "current" is not given', async () => {
    const file = await keyFile({
      keys: [
        { id: "a", key: b64(32) },
        { id: "b", key: b64(32) },
      ],
    });
    expect(codecFromEnv({ SQUADFLOW_CODEC_KEY_FILE: file })!.currentKeyId).toBe("b");
  });

  it("names the file when it cannot be read", () => {
    const missing = join(dir, "nope.json");
    expect(configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY_FILE: missing })).message).toBe(
      `SQUADFLOW_CODEC_KEY_FILE ${missing}: cannot read the key file (ENOENT)`,
    );
  });

  it("names the file and each bad field when the file is invalid", async () => {
    const short = b64(16);
    const cases: [unknown, RegExp][] = [
      ['{ "keys": [', /: not valid JSON: /],
      [{ keys: [] }, /keys: must list at least one key/],
      [{}, /keys: .*expected array/],
      [[1], /\(root\): .*expected object/],
      [{ keys: [{ id: "a", key: short }] }, /keys\.0\.key \("a"\) is 16 bytes; AES-256 needs exactly 32/],
      [{ keys: [{ id: "a", key: "%%%" }] }, /keys\.0\.key \("a"\) is not base64/],
      [
        {
          keys: [
            { id: "a", key: b64(32) },
            { id: "a", key: b64(32) },
          ],
        },
        /keys\.1\.id: duplicate key id "a"/,
      ],
      [{ keys: [{ id: "a", key: b64(32) }], current: "b" }, /current: "b" is not the id of one of the keys/],
      [{ keys: [{ id: "", key: b64(32) }] }, /keys\.0\.id: must be 1–100 letters/],
      [{ keys: [{ id: "a" }] }, /keys\.0\.key: /],
      [{ keys: [{ id: "a", key: b64(32) }], curent: "a" }, /Unrecognized key: "curent"/],
    ];
    for (const [content, message] of cases) {
      const file = await keyFile(content);
      const err = configError(() => codecFromEnv({ SQUADFLOW_CODEC_KEY_FILE: file }));
      expect(err.message.startsWith(`SQUADFLOW_CODEC_KEY_FILE ${file}: `)).toBe(true);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(short);
    }
  });
});
