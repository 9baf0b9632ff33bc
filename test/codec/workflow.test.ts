/**
 * Payload encryption against the run's real Temporal server: a worker and a client with the codec run a small
 * workflow; the raw history, read by a client WITHOUT the codec, holds only `binary/encrypted` payloads —
 * inputs, results and (with the failure converter of `dataConverterFromEnv`) failure messages.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, WorkflowFailedError } from "@temporalio/client";
import type { Payload } from "@temporalio/common";
import { temporal } from "@temporalio/proto";
import { describe, expect, it } from "vitest";
import { ENCODING_ENCRYPTED, dataConverterFromEnv } from "../../src/codec/aes-gcm.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import type { secretEcho, secretFailure } from "../fixtures/codec-workflow.js";

const WORKFLOWS = fileURLToPath(new URL("../fixtures/codec-workflow.ts", import.meta.url));
const env = { SQUADFLOW_CODEC_KEY: randomBytes(32).toString("base64"), SQUADFLOW_CODEC_KEY_ID: "test-key" };
const dataConverter = dataConverterFromEnv(env)!;
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString("utf8");

/** Every payload anywhere in a history (inputs, results, failure attributes…), found by walking the protos. */
function payloadsIn(value: unknown, out: Payload[] = []): Payload[] {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return out;
  if (Array.isArray(value)) {
    for (const v of value) payloadsIn(v, out);
    return out;
  }
  const o = value as Record<string, unknown>;
  if (
    o.metadata &&
    typeof o.metadata === "object" &&
    "data" in o &&
    (o.data === null || o.data instanceof Uint8Array)
  ) {
    out.push(o as Payload);
    return out;
  }
  for (const v of Object.values(o)) payloadsIn(v, out);
  return out;
}

/** The history serialized as protobuf: the bytes the server stores and hands to any reader. */
function rawBytes(history: temporal.api.history.v1.IHistory): Buffer {
  return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
}

async function setup() {
  const { client: plainClient, namespace } = await testEnv();
  const taskQueue = uniqueTaskQueue("codec");
  const worker = await createTestWorker({
    taskQueue,
    workflowBundlePath: false,
    activities: {
      async shout(t: string) {
        return t.toUpperCase();
      },
      async leak(t: string): Promise<string> {
        throw new Error(`activity could not handle ${t}`);
      },
    },
    workerOptions: { workflowsPath: WORKFLOWS, dataConverter },
  });
  const client = new Client({ connection: plainClient.connection, namespace, dataConverter });
  return { worker, client, plainClient, taskQueue };
}

describe("payload encryption on a real server", () => {
  it("stores workflow input and result encrypted; only a client with the key reads them", async () => {
    const { worker, client, plainClient, taskQueue } = await setup();
    const secret = `card BE-002 secret ${randomBytes(6).toString("hex")}`;
    const workflowId = `codec-echo-${randomBytes(4).toString("hex")}`;
    const result = await worker.runUntil(
      client.workflow.execute<typeof secretEcho>("secretEcho", { taskQueue, workflowId, args: [secret] }),
    );
    expect(result).toEqual({ echoed: secret.toUpperCase() });

    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!;
    const input = started.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(text(input.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
    expect(text(input.metadata!["encryption-key-id"])).toBe("test-key");
    expect(Buffer.from(input.data!).includes(Buffer.from(secret))).toBe(false);

    const payloads = payloadsIn(history.events);
    expect(payloads.length).toBeGreaterThanOrEqual(4); // workflow input, activity input, activity result, workflow result
    for (const p of payloads) {
      expect(text(p.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
      expect(Buffer.from(p.data ?? []).includes(Buffer.from(secret))).toBe(false);
      expect(Buffer.from(p.data ?? []).includes(Buffer.from(secret.toUpperCase()))).toBe(false);
    }
    expect(rawBytes(history).includes(Buffer.from(secret))).toBe(false);

    // Without the codec, the result cannot be read; with it, it can.
    await expect(plainClient.workflow.getHandle(workflowId).result()).rejects.toThrow(/binary\/encrypted/);
    expect(await client.workflow.getHandle(workflowId).result()).toEqual({ echoed: secret.toUpperCase() });
  });

  it("keeps activity and workflow failure messages out of the raw history (encodeCommonAttributes)", async () => {
    const { worker, client, plainClient, taskQueue } = await setup();
    const secret = `api key sk-${randomBytes(6).toString("hex")}`;
    const workflowId = `codec-fail-${randomBytes(4).toString("hex")}`;
    const err = await worker.runUntil(
      client.workflow
        .execute<typeof secretFailure>("secretFailure", { taskQueue, workflowId, args: [secret] })
        .catch((e: unknown) => e),
    );
    // The client with the codec still reads the real message.
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.message).toBe(`workflow gave up on ${secret}`);

    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const activityFailed = history.events!.find((e) => e.activityTaskFailedEventAttributes)!
      .activityTaskFailedEventAttributes!.failure!;
    expect(activityFailed.message).not.toContain(secret);
    expect(activityFailed.message).toBe("Encoded failure");
    expect(activityFailed.stackTrace ?? "").not.toContain(secret);
    expect(text(activityFailed.encodedAttributes!.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);

    const workflowFailed = history.events!.find((e) => e.workflowExecutionFailedEventAttributes)!
      .workflowExecutionFailedEventAttributes!.failure!;
    expect(workflowFailed.message).toBe("Encoded failure");
    expect(text(workflowFailed.encodedAttributes!.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);

    expect(rawBytes(history).includes(Buffer.from(secret))).toBe(false);
    for (const p of payloadsIn(history.events)) {
      expect(text(p.metadata!.encoding)).toBe(ENCODING_ENCRYPTED);
      expect(Buffer.from(p.data ?? []).includes(Buffer.from(secret))).toBe(false);
    }
  });
});
