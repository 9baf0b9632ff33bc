/**
 * Optional payload encryption: an AES-256-GCM `PayloadCodec` for every payload squadflow sends to Temporal
 * (workflow and activity inputs and results, signals, updates, queries, memos, and — with the failure
 * converter of `dataConverterFromEnv` — failure messages and stack traces). The Temporal server, its
 * database and anyone reading raw history see only ciphertext; clients and workers holding the key (and the
 * codec server of `./server.ts`, for the Web UI) see the plain values.
 *
 * Wire format of an encrypted payload (the same as Temporal's Go and Python encryption samples, so other
 * languages' codecs can read it):
 *   metadata  `encoding: binary/encrypted`, `encryption-key-id: <key id>`
 *   data      12-byte random IV ‖ AES-256-GCM ciphertext of the serialized `temporal.api.common.v1.Payload` ‖ 16-byte tag
 *
 * Keys come from the environment (`codecFromEnv`): one key (`SQUADFLOW_CODEC_KEY` + `SQUADFLOW_CODEC_KEY_ID`) or a
 * key file (`SQUADFLOW_CODEC_KEY_FILE`) with several keys for rotation. Without either, encryption is off.
 *
 * Node-only (node:crypto, node:fs): never import from workflows.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DataConverter, Payload, PayloadCodec } from "@temporalio/common";
import proto from "@temporalio/proto";
import { z } from "zod";

// @temporalio/proto is CommonJS whose named exports Node's ESM loader cannot see: take them from the default export.
const { temporal } = proto;

/** `encoding` metadata value of an encrypted payload. */
export const ENCODING_ENCRYPTED = "binary/encrypted";
/** Metadata key naming the key that encrypted a payload. */
export const METADATA_KEY_ID = "encryption-key-id";
/** AES-256 key length, bytes. */
export const KEY_BYTES = 32;
/** GCM nonce length, bytes (random per payload). */
export const IV_BYTES = 12;
/** GCM authentication tag length, bytes. */
export const TAG_BYTES = 16;
/** Key ids travel in payload metadata: 1–100 letters, digits, `.`, `_`, `:` or `-`. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * Path of the failure converter module (`failure-converter.cjs`, `DefaultFailureConverter` with
 * `encodeCommonAttributes: true`). Pass it as `failureConverterPath` to `Worker.create`/`Client` (done by
 * `dataConverterFromEnv`) AND to `bundleWorkflowCode` when bundling workflows ahead of time: failures raised
 * inside workflows are converted by the bundle's converter.
 */
export const ENCRYPTED_FAILURE_CONVERTER_PATH = fileURLToPath(new URL("./failure-converter.cjs", import.meta.url));

/** Bad codec configuration (missing key id, wrong key length, unreadable key file…). Fix the config; not retryable. */
export class CodecConfigError extends Error {
  readonly type = "CodecConfigError";
  constructor(message: string) {
    super(message);
    this.name = "CodecConfigError";
  }
}

/**
 * An encrypted payload that cannot be decrypted: unknown key id, missing key id, too short, or failed GCM
 * authentication (tampered with, or encrypted with another key of the same id).
 */
export class PayloadDecryptionError extends Error {
  readonly type = "PayloadDecryptionError";
  constructor(message: string) {
    super(message);
    this.name = "PayloadDecryptionError";
  }
}

/** One AES-256 key: its id (written into every payload it encrypts) and 32 raw bytes. */
export interface CodecKey {
  id: string;
  key: Uint8Array;
}

/** The keys a codec knows. `current` (default: the last key) encrypts; every key decrypts. */
export interface CodecKeyring {
  keys: CodecKey[];
  current?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * AES-256-GCM payload codec with key rotation: `encode` encrypts with the current key, `decode` picks the key
 * named by each payload's `encryption-key-id`. Payloads whose `encoding` is not `binary/encrypted` pass through
 * `decode` unchanged (data written before encryption was turned on stays readable).
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();
  /** Id of the key that encrypts. */
  readonly currentKeyId: string;

  /** @throws CodecConfigError on no keys, a bad or duplicate key id, a key that is not 32 bytes, or an unknown `current`. */
  constructor(keyring: CodecKeyring) {
    if (keyring.keys.length === 0) throw new CodecConfigError("payload codec: no encryption keys configured");
    for (const { id, key } of keyring.keys) {
      if (!KEY_ID_PATTERN.test(id))
        throw new CodecConfigError(`payload codec: key id "${id}" must be 1–100 letters, digits, ".", "_", ":" or "-"`);
      if (key.length !== KEY_BYTES) {
        throw new CodecConfigError(
          `payload codec: key "${id}" is ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES}`,
        );
      }
      if (this.keys.has(id)) throw new CodecConfigError(`payload codec: duplicate key id "${id}"`);
      this.keys.set(id, Buffer.from(key));
    }
    this.currentKeyId = keyring.current ?? keyring.keys[keyring.keys.length - 1]!.id;
    if (!this.keys.has(this.currentKeyId)) {
      throw new CodecConfigError(
        `payload codec: current key "${this.currentKeyId}" is not one of the keys (${this.keyIds().join(", ")})`,
      );
    }
  }

  /** Ids of every configured key, in configuration order. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Encrypts every payload with the current key and a fresh random IV. Never throws for valid payloads. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: encoder.encode(ENCODING_ENCRYPTED),
          [METADATA_KEY_ID]: encoder.encode(this.currentKeyId),
        },
        data,
      };
    });
  }

  /**
   * Decrypts every `binary/encrypted` payload; others are returned as they are.
   * @throws PayloadDecryptionError naming the unknown key id (and the configured ones), or saying that the payload
   * was tampered with / encrypted with another key, or that its key id metadata is missing.
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || decoder.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
      const rawId = payload.metadata?.[METADATA_KEY_ID];
      if (!rawId) throw new PayloadDecryptionError(`cannot decrypt payload: it has no "${METADATA_KEY_ID}" metadata`);
      const keyId = decoder.decode(rawId);
      const key = this.keys.get(keyId);
      if (!key) {
        throw new PayloadDecryptionError(
          `cannot decrypt payload: unknown encryption key id "${keyId}" (configured key ids: ${this.keyIds().join(", ")})`,
        );
      }
      const data = payload.data ?? new Uint8Array();
      if (data.length < IV_BYTES + TAG_BYTES) {
        throw new PayloadDecryptionError(
          `cannot decrypt payload with key "${keyId}": ${data.length} bytes is too short (at least ${IV_BYTES + TAG_BYTES})`,
        );
      }
      let plain: Buffer;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadDecryptionError(
          `cannot decrypt payload with key "${keyId}": authentication failed (the payload was tampered with or encrypted with another key)`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

// ---- Configuration from the environment ----------------------------------------------------------

/** Environment variables read by `codecFromEnv`. */
export const CODEC_ENV = {
  /** One key, base64 of 32 bytes (`openssl rand -base64 32`). */
  key: "SQUADFLOW_CODEC_KEY",
  /** The id of `SQUADFLOW_CODEC_KEY` (required with it), e.g. `2025-06`. */
  keyId: "SQUADFLOW_CODEC_KEY_ID",
  /** A JSON key file `{ "keys": [{ "id": "…", "key": "<base64>" }], "current": "id" }`, for rotation. */
  keyFile: "SQUADFLOW_CODEC_KEY_FILE",
} as const;

/** Decodes a base64 (or base64url) AES-256 key; the error names `what` and never the key itself. */
function decodeKey(text: string, what: string): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) && !/^[A-Za-z0-9_-]+={0,2}$/.test(t)) {
    throw new CodecConfigError(
      `${what} is not base64 (expected ${KEY_BYTES} random bytes, e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const key = Buffer.from(t, "base64");
  if (key.length !== KEY_BYTES) {
    throw new CodecConfigError(
      `${what} is ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES} (\`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

const KeyIdSchema = z.string().regex(KEY_ID_PATTERN, 'must be 1–100 letters, digits, ".", "_", ":" or "-"');

/** Shape of the `SQUADFLOW_CODEC_KEY_FILE` JSON file. Unknown fields are refused (a typo must not go unnoticed). */
export const CodecKeyFileSchema = z
  .strictObject({
    keys: z
      .array(z.strictObject({ id: KeyIdSchema, key: z.string().min(1, "is required") }))
      .min(1, "must list at least one key"),
    /** Id of the key that encrypts; default: the last key of `keys` (the newest). */
    current: KeyIdSchema.optional(),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.keys.forEach((k, i) => {
      if (seen.has(k.id))
        ctx.addIssue({ code: "custom", path: ["keys", i, "id"], message: `duplicate key id "${k.id}"` });
      seen.add(k.id);
    });
    if (file.current !== undefined && !seen.has(file.current)) {
      ctx.addIssue({
        code: "custom",
        path: ["current"],
        message: `"${file.current}" is not the id of one of the keys`,
      });
    }
  });
/** A parsed key file. */
export type CodecKeyFile = z.infer<typeof CodecKeyFileSchema>;

/**
 * Parses the text of a key file into a keyring.
 * @throws CodecConfigError naming `file` and each bad field (`keys[1].key: … is 16 bytes; AES-256 needs exactly 32`).
 */
export function parseKeyFile(text: string, file: string): CodecKeyring {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CodecConfigError(`${CODEC_ENV.keyFile} ${file}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = CodecKeyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`);
    throw new CodecConfigError(`${CODEC_ENV.keyFile} ${file}: ${problems.join("; ")}`);
  }
  const keys = parsed.data.keys.map((k, i) => ({
    id: k.id,
    key: decodeKey(k.key, `${CODEC_ENV.keyFile} ${file}: keys.${i}.key ("${k.id}")`),
  }));
  return { keys, current: parsed.data.current };
}

/**
 * Reads the keyring from the environment: `SQUADFLOW_CODEC_KEY_FILE`, or `SQUADFLOW_CODEC_KEY` +
 * `SQUADFLOW_CODEC_KEY_ID`. Empty values count as unset. Returns `undefined` when neither is set (encryption off).
 * @throws CodecConfigError when both are set, a key id is missing, a key is not base64 of 32 bytes, or the key file
 * is unreadable or invalid — always naming the variable or file, never printing a key.
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv = process.env): CodecKeyring | undefined {
  const key = nonEmpty(env[CODEC_ENV.key]);
  const keyId = nonEmpty(env[CODEC_ENV.keyId]);
  const keyFile = nonEmpty(env[CODEC_ENV.keyFile]);
  if (keyFile && key) throw new CodecConfigError(`set either ${CODEC_ENV.keyFile} or ${CODEC_ENV.key}, not both`);
  if (keyFile) {
    let text: string;
    try {
      text = readFileSync(keyFile, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CodecConfigError(`${CODEC_ENV.keyFile} ${keyFile}: cannot read the key file (${code})`);
    }
    return parseKeyFile(text, keyFile);
  }
  if (!key) {
    if (keyId) throw new CodecConfigError(`${CODEC_ENV.keyId} is set but ${CODEC_ENV.key} is not`);
    return undefined;
  }
  if (!keyId)
    throw new CodecConfigError(
      `${CODEC_ENV.key} is set but ${CODEC_ENV.keyId} is not: name the key (e.g. "2025-06") so it can be rotated later`,
    );
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new CodecConfigError(`${CODEC_ENV.keyId} "${keyId}" must be 1–100 letters, digits, ".", "_", ":" or "-"`);
  }
  return { keys: [{ id: keyId, key: decodeKey(key, CODEC_ENV.key) }], current: keyId };
}

/**
 * The AES-256-GCM codec configured by the environment (see `keyringFromEnv`), or `undefined` when encryption
 * is off.
 * @throws CodecConfigError on a bad configuration (see `keyringFromEnv`).
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmPayloadCodec | undefined {
  const keyring = keyringFromEnv(env);
  return keyring ? new AesGcmPayloadCodec(keyring) : undefined;
}

/**
 * The `dataConverter` for `Client`, `Worker.create` and `bundleWorkflowCode` when encryption is on:
 * `{ payloadCodecs: [codec], failureConverterPath }` — the failure converter encodes failure messages and stack
 * traces as payloads, so the codec encrypts them too. `undefined` when encryption is off.
 *
 * (The SDK's `DataConverter` takes a failure converter by module path, not as an instance: the worker `require`s it
 * and the bundler compiles it into the workflow bundle. A prebuilt bundle must be made with the same
 * `failureConverterPath` — `ENCRYPTED_FAILURE_CONVERTER_PATH` — or failures raised in workflows stay plain text.)
 * @throws CodecConfigError on a bad configuration (see `keyringFromEnv`).
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? encryptedDataConverter(codec) : undefined;
}

/** The data converter for a given codec: `{ payloadCodecs: [codec], failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH }`. */
export function encryptedDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
