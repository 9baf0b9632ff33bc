import { describe, expect, inject, it } from "vitest";
import { connectClient, connectionOptions, connectWorkerConnection } from "../../src/temporal/connection.js";

describe("connectionOptions", () => {
  it("defaults to the local dev server and the default namespace", () => {
    expect(connectionOptions({})).toEqual({ address: "127.0.0.1:7233", namespace: "default" });
  });

  it("reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, treating blank values as unset", () => {
    expect(connectionOptions({ TEMPORAL_ADDRESS: "temporal:7233", TEMPORAL_NAMESPACE: "squad" })).toEqual({
      address: "temporal:7233",
      namespace: "squad",
    });
    expect(connectionOptions({ TEMPORAL_ADDRESS: "  ", TEMPORAL_NAMESPACE: "" })).toEqual({
      address: "127.0.0.1:7233",
      namespace: "default",
    });
  });
});

describe("connectClient / connectWorkerConnection", () => {
  const opts = { address: inject("temporalAddress"), namespace: inject("temporalNamespace") };

  it("connects a client to the given server and namespace", async () => {
    const client = await connectClient(opts);
    try {
      expect(client.options.namespace).toBe(opts.namespace);
      const info = await client.connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
    } finally {
      await client.connection.close();
    }
  });

  it("connects a worker connection to the given server", async () => {
    const connection = await connectWorkerConnection(opts);
    await connection.close();
  });

  it("fails with the SDK error when nothing listens at the address", async () => {
    await expect(connectWorkerConnection({ address: "127.0.0.1:1", namespace: "default" })).rejects.toThrow();
  });
});
