/**
 * The AES-256-GCM payload codec: what it writes (metadata, fresh IV each time, no plaintext), what it refuses
 * (tampered data, unknown or missing key ids) and how it rotates keys.
 */
import { randomBytes } from "node:crypto";
import { defaultPayloadConverter, type Payload } from "@temporalio/common";
import { describe, expect, it } from "vitest";
import {
  AesGcmPayloadCodec,
  CodecConfigError,
  ENCODING_ENCRYPTED,
  IV_BYTES,
  METADATA_KEY_ID,
  PayloadDecryptionError,
  TAG_BYTES,
} from "../../src/codec/aes-gcm.js";

const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString("utf8");
const key = (id: string) => ({ id, key: randomBytes(32) });
const SECRET = "the ledger password is hunter2";

function payloadOf(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value);
}

describe("AesGcmPayloadCodec", () => {
  it("round-trips payloads: decode(encode(p)) gives back the same metadata and data", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const originals = [
      payloadOf({ secret: SECRET, n: 1 }),
      payloadOf("plain string"),
      payloadOf(null),
      payloadOf(new Uint8Array([0, 1, 2, 255])),
    ];
    const decoded = await codec.decode(await codec.encode(originals));
    expect(decoded).toHaveLength(originals.length);
    decoded.forEach((p, i) => {
      expect(text(p.data)).toBe(text(originals[i]!.data));
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(Object.keys(originals[i]!.metadata ?? {}).sort());
      for (const [k, v] of Object.entries(originals[i]!.metadata ?? {})) expect(text(p.metadata![k])).toBe(text(v));
      expect(defaultPayloadConverter.fromPayload(p)).toEqual(defaultPayloadConverter.fromPayload(originals[i]!));
    });
  });

  it("handles an empty list", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    expect(await codec.encode([])).toEqual([]);
    expect(await codec.decode([])).toEqual([]);
  });

  it("marks encrypted payloads binary/encrypted with the key id, and keeps no plaintext", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("2025-06")] });
    const [enc] = await codec.encode([payloadOf({ secret: SECRET })]);
    expect(text(enc!.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
    expect(text(enc!.metadata![METADATA_KEY_ID])).toBe("2025-06");
    expect(Object.keys(enc!.metadata!).sort()).toEqual(["encoding", METADATA_KEY_ID].sort());
    const bytes = Buffer.from(enc!.data!);
    expect(bytes.includes(Buffer.from("hunter2"))).toBe(false);
    expect(bytes.includes(Buffer.from("json/plain"))).toBe(false);
    expect(bytes.length).toBeGreaterThanOrEqual(IV_BYTES + TAG_BYTES);
  });

  it("encrypts the same payload differently each time (random IV)", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const p = payloadOf({ secret: SECRET });
    const [a] = await codec.encode([p]);
    const [b] = await codec.encode([p]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!).subarray(0, IV_BYTES).equals(Buffer.from(b!.data!).subarray(0, IV_BYTES))).toBe(false);
  });

  it("refuses a tampered payload (any flipped byte: IV, ciphertext or tag)", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const [enc] = await codec.encode([payloadOf({ secret: SECRET })]);
    const data = Buffer.from(enc!.data!);
    for (const at of [0, IV_BYTES + 1, data.length - 1]) {
      const tampered = Buffer.from(data);
      tampered[at] = tampered[at]! ^ 0x01;
      const err = await codec.decode([{ ...enc!, data: tampered }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadDecryptionError);
      expect((err as Error).message).toMatch(/key "k1": authentication failed \(the payload was tampered with/);
    }
  });

  it("refuses a truncated payload", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const [enc] = await codec.encode([payloadOf("x")]);
    const err = await codec
      .decode([{ ...enc!, data: Buffer.from(enc!.data!).subarray(0, 10) }])
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/10 bytes is too short/);
  });

  it("refuses a payload encrypted with another key of the same id", async () => {
    const [enc] = await new AesGcmPayloadCodec({ keys: [key("k1")] }).encode([payloadOf("x")]);
    const err = await new AesGcmPayloadCodec({ keys: [key("k1")] }).decode([enc!]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadDecryptionError);
  });

  it("names the unknown key id (and the configured ones) when it has no such key", async () => {
    const [enc] = await new AesGcmPayloadCodec({ keys: [key("retired-2023")] }).encode([payloadOf("x")]);
    const err = await new AesGcmPayloadCodec({ keys: [key("k1"), key("k2")] }).decode([enc!]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadDecryptionError);
    expect((err as Error).message).toBe(
      'cannot decrypt payload: unknown encryption key id "retired-2023" (configured key ids: k1, k2)',
    );
  });

  it("refuses an encrypted payload without a key id", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const [enc] = await codec.encode([payloadOf("x")]);
    const err = await codec
      .decode([{ metadata: { encoding: enc!.metadata!.encoding! }, data: enc!.data }])
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no "encryption-key-id" metadata/);
  });

  it("passes payloads that are not encrypted through decode unchanged", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("k1")] });
    const plain = [payloadOf({ a: 1 }), { data: new Uint8Array([1]) }, { metadata: {}, data: new Uint8Array() }];
    const out = await codec.decode(plain);
    out.forEach((p, i) => expect(p).toBe(plain[i]));
  });

  it("rotates keys: the current key encrypts, old payloads still decode with their old key", async () => {
    const k1 = key("k1");
    const k2 = key("k2");
    const before = new AesGcmPayloadCodec({ keys: [k1] });
    const [old] = await before.encode([payloadOf("written in 2024")]);
    const after = new AesGcmPayloadCodec({ keys: [k1, k2], current: "k2" });
    expect(after.currentKeyId).toBe("k2");
    const [fresh] = await after.encode([payloadOf("written in 2025")]);
    expect(text(fresh!.metadata![METADATA_KEY_ID])).toBe("k2");
    const [a, b] = await after.decode([old!, fresh!]);
    expect(defaultPayloadConverter.fromPayload(a!)).toBe("written in 2024");
    expect(defaultPayloadConverter.fromPayload(b!)).toBe("written in 2025");
    // A codec that no longer has k1 cannot read the old payload, and says which key it lacks.
    await expect(new AesGcmPayloadCodec({ keys: [k2] }).decode([old!])).rejects.toThrow(
      /unknown encryption key id "k1"/,
    );
  });

  it("uses the last key as the current one when none is named (the newest encrypts)", async () => {
    const codec = new AesGcmPayloadCodec({ keys: [key("old"), key("new")] });
    const [enc] = await codec.encode([payloadOf("x")]);
    expect(text(enc!.metadata![METADATA_KEY_ID])).toBe("new");
  });

  it("refuses a bad keyring with a CodecConfigError naming the problem", () => {
    const bad: [ConstructorParameters<typeof AesGcmPayloadCodec>[0], RegExp][] = [
      [{ keys: [] }, /no encryption keys/],
      [{ keys: [{ id: "k1", key: randomBytes(16) }] }, /key "k1" is 16 bytes; AES-256 needs exactly 32/],
      [{ keys: [key("k1"), key("k1")] }, /duplicate key id "k1"/],
      [{ keys: [key("k1")], current: "k9" }, /current key "k9" is not one of the keys \(k1\)/],
      [{ keys: [key("has space")] }, /key id "has space" must be/],
    ];
    for (const [keyring, message] of bad) {
      expect(() => new AesGcmPayloadCodec(keyring)).toThrow(CodecConfigError);
      expect(() => new AesGcmPayloadCodec(keyring)).toThrow(message);
    }
  });
});
