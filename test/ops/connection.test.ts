/**
 * Connection settings from Temporal's standard environment configuration (@temporalio/envconfig):
 * environment variables, TOML profiles (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE), TLS / API key, and a
 * real connection made from a profile file.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  TemporalConfigError,
  connectClient,
  connectionOptions,
  describeConnection,
} from "../../src/temporal/connection.js";

let dir: string;
let config: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squadflow-envconfig-"));
  await writeFile(join(dir, "client.pem"), "CERT");
  await writeFile(join(dir, "client.key"), "KEY");
  config = join(dir, "temporal.toml");
  await writeFile(
    config,
    [
      "[profile.default]",
      `address = "${inject("temporalAddress")}"`,
      `namespace = "${inject("temporalNamespace")}"`,
      "",
      "[profile.cloud]",
      'address = "squad.a1b2c.tmprl.cloud:7233"',
      'namespace = "squad.a1b2c"',
      'api_key = "secret-api-key"',
      "",
      "[profile.mtls]",
      'address = "temporal.internal:7233"',
      'namespace = "squad"',
      "[profile.mtls.tls]",
      `client_cert_path = "${join(dir, "client.pem")}"`,
      `client_key_path = "${join(dir, "client.key")}"`,
      'server_name = "temporal.internal"',
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("connectionOptions from environment variables", () => {
  it("keeps the defaults without any setting", () => {
    expect(connectionOptions({})).toEqual({ address: "127.0.0.1:7233", namespace: "default" });
  });

  it("reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_API_KEY (which turns TLS on)", () => {
    expect(
      connectionOptions({ TEMPORAL_ADDRESS: "x.tmprl.cloud:7233", TEMPORAL_NAMESPACE: "ns", TEMPORAL_API_KEY: "k" }),
    ).toEqual({
      address: "x.tmprl.cloud:7233",
      namespace: "ns",
      apiKey: "k",
      tls: true,
    });
  });

  it("reads mTLS material and gRPC metadata", () => {
    const opts = connectionOptions({
      TEMPORAL_ADDRESS: "temporal:7233",
      TEMPORAL_TLS_CLIENT_CERT_DATA: "CERT",
      TEMPORAL_TLS_CLIENT_KEY_DATA: "KEY",
      TEMPORAL_TLS_SERVER_NAME: "temporal",
      TEMPORAL_GRPC_META_X_TENANT: "squad",
    });
    expect(opts.tls).toMatchObject({
      serverNameOverride: "temporal",
      clientCertPair: { crt: Buffer.from("CERT"), key: Buffer.from("KEY") },
    });
    expect(opts.metadata).toEqual({ "x-tenant": "squad" });
    expect(describeConnection(opts)).toBe("temporal:7233 (namespace default, mTLS)");
  });
});

describe("connectionOptions from a TOML profile file", () => {
  it("loads the default profile of TEMPORAL_CONFIG_FILE", () => {
    expect(connectionOptions({ TEMPORAL_CONFIG_FILE: config })).toEqual({
      address: inject("temporalAddress"),
      namespace: inject("temporalNamespace"),
    });
  });

  it("loads the profile named by TEMPORAL_PROFILE, environment variables overriding it", () => {
    const cloud = connectionOptions({
      TEMPORAL_CONFIG_FILE: config,
      TEMPORAL_PROFILE: "cloud",
      TEMPORAL_NAMESPACE: "other",
    });
    expect(cloud).toEqual({
      address: "squad.a1b2c.tmprl.cloud:7233",
      namespace: "other",
      apiKey: "secret-api-key",
      tls: true,
      profile: "cloud",
    });
    expect(describeConnection(cloud)).toBe(
      "squad.a1b2c.tmprl.cloud:7233 (namespace other, profile cloud, TLS, API key)",
    );
    expect(describeConnection(cloud)).not.toContain("secret");
  });

  it("reads the client certificate and key files of an mTLS profile", () => {
    const mtls = connectionOptions({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: "mtls" });
    expect(mtls).toMatchObject({ address: "temporal.internal:7233", namespace: "squad" });
    expect(mtls.tls).toMatchObject({
      serverNameOverride: "temporal.internal",
      clientCertPair: { crt: Buffer.from("CERT"), key: Buffer.from("KEY") },
    });
  });

  it("throws TemporalConfigError naming the file and profile for an unknown profile", () => {
    expect(() => connectionOptions({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: "nope" })).toThrow(
      TemporalConfigError,
    );
    expect(() => connectionOptions({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: "nope" })).toThrow(
      `file ${config}, profile nope`,
    );
  });

  it("connects a client with the settings of a profile file", async () => {
    const client = await connectClient(connectionOptions({ TEMPORAL_CONFIG_FILE: config }));
    try {
      expect((await client.connection.workflowService.getSystemInfo({})).serverVersion).toBeTruthy();
    } finally {
      await client.connection.close();
    }
  });
});
