/**
 * docker-compose.yml: checked statically (no Docker engine here) and, for the namespace one-shot's script,
 * for real against a dev server.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { TypedSearchAttributes } from "@temporalio/common";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMetricsServer } from "../../src/observability/metrics.js";
import { findTemporalCli, PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { startDevServer, type DevServerHandle } from "../../src/temporal/dev-server.js";
import { QUEUE_KINDS } from "../../src/temporal/queues.js";
import { SEARCH_ATTRIBUTES } from "../../src/temporal/search-attributes.js";
import { maxCachedWorkflowsFromEnv } from "../../src/worker.js";

interface ComposeService {
  image?: string;
  container_name?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; timeout?: string; retries?: number; start_period?: string };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(join(PROJECT_ROOT, "docker-compose.yml"), "utf8"), {
  merge: true,
}) as ComposeFile;
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** `Name=Type` pairs of the namespace one-shot, e.g. `[['BacklogId', 'Keyword'], …]`. */
function composeSearchAttributes(): [string, string][] {
  const raw = service("temporal-create-namespace").environment?.SEARCH_ATTRIBUTES ?? "";
  return raw
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => pair.split("=") as [string, string]);
}

/** Host path of a script the admin-tools services run from their `/squadflow` mount. */
function scriptPath(name: string): string {
  const svc = service(name);
  const mount = svc.volumes?.find((v) => v.split(":")[1] === "/squadflow");
  const script = svc.command?.[0];
  if (!mount || !script?.startsWith("/squadflow/")) throw new Error(`${name} does not run a mounted script`);
  return join(PROJECT_ROOT, mount.split(":")[0]!, script.slice("/squadflow/".length));
}

describe("docker-compose.yml", () => {
  it("has the Temporal cluster services and one worker service per task queue", () => {
    const workers = QUEUE_KINDS.map((kind) => `worker-${kind}`);
    expect(Object.keys(services).sort()).toEqual(
      ["postgresql", "temporal-admin-tools", "temporal", "temporal-create-namespace", "temporal-ui", ...workers].sort(),
    );
  });

  it("pins every image to a specific version and does not use the deprecated auto-setup image", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) continue;
      expect(svc.image, name).toMatch(/^[\w./-]+:\d+(\.\d+)+$/);
      expect(svc.image, name).not.toContain("auto-setup");
    }
    expect(service("temporal").image).toMatch(/^temporalio\/server:/);
    expect(service("temporal-ui").image).toMatch(/^temporalio\/ui:/);
    // A current 16.x or 17.x patch (16.14 / 17.10: May 2026); a major upgrade needs a dump/restore of the volume.
    expect(service("postgresql").image).toMatch(/^postgres:1[67]\.\d+$/);
    const [major, minor] = service("postgresql").image!.split(":")[1]!.split(".").map(Number);
    expect(minor).toBeGreaterThanOrEqual(major === 16 ? 14 : 10);
    // Schema tools must match the server version they migrate for.
    const serverVersion = service("temporal").image!.split(":")[1];
    expect(service("temporal-admin-tools").image).toBe(`temporalio/admin-tools:${serverVersion}`);
    expect(service("temporal-create-namespace").image).toBe(`temporalio/admin-tools:${serverVersion}`);
  });

  it("publishes gRPC on 7233 and the UI on 8080, and points the UI at the server", () => {
    expect(service("temporal").ports).toEqual(["7233:7233"]);
    expect(service("temporal-ui").ports).toEqual(["8080:8080"]);
    expect(service("temporal-ui").environment?.TEMPORAL_ADDRESS).toBe("temporal:7233");
  });

  it("starts in order: postgres healthy → schema one-shot done → server healthy → namespace one-shot done", () => {
    expect(service("temporal-admin-tools").depends_on).toEqual({ postgresql: { condition: "service_healthy" } });
    expect(service("temporal").depends_on).toEqual({
      "temporal-admin-tools": { condition: "service_completed_successfully" },
    });
    expect(service("temporal-create-namespace").depends_on).toEqual({ temporal: { condition: "service_healthy" } });
    expect(service("temporal-ui").depends_on).toEqual({ temporal: { condition: "service_healthy" } });
  });

  it("health-checks postgres with pg_isready and the server on its gRPC port", () => {
    expect(service("postgresql").healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(service("temporal").healthcheck?.test.join(" ")).toContain("7233");
    expect(service("postgresql").volumes?.[0]).toMatch(/^postgresql-data:\/var\/lib\/postgresql\/data$/);
    expect(compose.volumes).toHaveProperty("postgresql-data");
  });

  it("sets up the default and visibility schemas with temporal-sql-tool against postgres", () => {
    const env = service("temporal-admin-tools").environment ?? {};
    expect(env.DB).toBe("postgres12");
    expect(env.POSTGRES_SEEDS).toBe("postgresql");
    expect(service("temporal").environment?.DBNAME).toBe(env.DBNAME);
    expect(service("temporal").environment?.VISIBILITY_DBNAME).toBe(env.VISIBILITY_DBNAME);
    const script = readFileSync(scriptPath("temporal-admin-tools"), "utf8");
    for (const step of ["temporal-sql-tool", "--plugin postgres12", "setup-schema", "update-schema"]) {
      expect(script).toContain(step);
    }
    expect(script).toContain("/etc/temporal/schema/postgresql/v12");
    expect(script).toMatch(/setup_database "\$\{DBNAME:-temporal\}" temporal$/m);
    expect(script).toMatch(/setup_database "\$\{VISIBILITY_DBNAME:-temporal_visibility\}" visibility$/m);
  });

  it("registers exactly the search attributes of src/temporal/search-attributes.ts, with their types", () => {
    const expected = SEARCH_ATTRIBUTES.map(({ name, type }) => [name, TypedSearchAttributes.toMetadataType(type)]);
    expect(composeSearchAttributes()).toEqual(expected);
  });

  it("runs one worker per task queue kind, from the Dockerfile, after the namespace is ready", () => {
    for (const kind of QUEUE_KINDS) {
      const worker = service(`worker-${kind}`);
      expect(worker.command).toEqual(["node", "--import", "tsx", "src/worker.ts", "--queues", kind]);
      expect(worker.build).toEqual({ context: ".", dockerfile: "Dockerfile" });
      expect(worker.environment?.TEMPORAL_ADDRESS).toBe("temporal:7233");
      expect(worker.depends_on).toEqual({
        "temporal-create-namespace": { condition: "service_completed_successfully" },
      });
    }
    const dockerfile = readFileSync(join(PROJECT_ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM node:24[\w.-]*slim$/m);
    expect(dockerfile).toContain("npm ci");
    // Repository backlogs run the git binary in the owner and validation workers.
    expect(dockerfile).toMatch(/apt-get install [^\n]*\bgit\b/);
    expect(dockerfile).toContain('CMD ["node", "--import", "tsx", "src/worker.ts"]');
  });

  it("caps the orchestration worker's workflow memory, and only its: the others run agents, which inherit NODE_OPTIONS", () => {
    const orchestration = service("worker-orchestration").environment ?? {};
    expect(maxCachedWorkflowsFromEnv(orchestration)).toBe(250);
    expect(orchestration.NODE_OPTIONS).toBe("--max-old-space-size=384");
    // The merge keeps the shared settings.
    expect(orchestration.TEMPORAL_ADDRESS).toBe("temporal:7233");
    expect(orchestration.SQUADFLOW_LOG_FORMAT).toBe("json");
    for (const kind of QUEUE_KINDS.filter((k) => k !== "orchestration")) {
      const env = service(`worker-${kind}`).environment ?? {};
      expect(env.NODE_OPTIONS).toBeUndefined();
      expect(env.SQUADFLOW_MAX_CACHED_WORKFLOWS).toBeUndefined();
    }
  });

  it("lets every worker service scale (`docker compose up --scale`): no container_name, no host ports", () => {
    for (const kind of QUEUE_KINDS) {
      const worker = service(`worker-${kind}`);
      expect(worker.container_name, kind).toBeUndefined();
      expect(worker.ports, kind).toBeUndefined();
    }
  });

  it("health-checks every worker on /healthz of its squadflow metrics port, with node (the image has no curl)", () => {
    for (const kind of QUEUE_KINDS) {
      const worker = service(`worker-${kind}`);
      const [cmd, bin, flag, script] = worker.healthcheck?.test ?? [];
      expect([cmd, bin, flag], kind).toEqual(["CMD", "node", "-e"]);
      expect(script, kind).toContain("/healthz");
      expect(script, kind).toContain("process.env.SQUADFLOW_METRICS_PORT");
      expect(worker.environment?.SQUADFLOW_METRICS_PORT, kind).toMatch(/^\d+$/);
      expect(worker.healthcheck, kind).toMatchObject({
        interval: expect.any(String),
        timeout: expect.any(String),
        retries: expect.any(Number),
      });
    }
  });

  it("health-checks the UI on its /healthz with curl (shipped by the temporalio/ui image)", () => {
    const test = service("temporal-ui").healthcheck?.test ?? [];
    expect(test.slice(0, 2)).toEqual(["CMD", "curl"]);
    expect(test).toContain("-fsS");
    const port = service("temporal-ui").ports![0]!.split(":")[1];
    expect(test[test.length - 1]).toBe(`http://127.0.0.1:${port}/healthz`);
  });

  it("mounts one-shot scripts that exist and are valid sh", () => {
    for (const name of ["temporal-admin-tools", "temporal-create-namespace"]) {
      const path = scriptPath(name);
      expect(existsSync(path), path).toBe(true);
      execFileSync("sh", ["-n", path]);
    }
    expect(existsSync(join(PROJECT_ROOT, "deploy/temporal/dynamicconfig/development-sql.yaml"))).toBe(true);
  });
});

describe("the worker healthcheck command, run for real", () => {
  const script = service("worker-owners").healthcheck!.test[3]!;
  /** Runs the healthcheck as Docker would (`node -e …`) with the worker's SQUADFLOW_METRICS_PORT; its exit code. */
  const check = (metricsPort: number) =>
    promisify(execFile)(process.execPath, ["-e", script], {
      env: { ...process.env, SQUADFLOW_METRICS_PORT: String(metricsPort) },
      timeout: 10_000,
    }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );

  it("passes against a squadflow metrics server on SQUADFLOW_METRICS_PORT + 1, and fails once it is gone", async () => {
    const server = await startMetricsServer({ port: 0, host: "127.0.0.1", processMetrics: false });
    const metricsPort = server.port - 1;
    try {
      expect(await check(metricsPort)).toBe(0);
    } finally {
      await server.close();
    }
    expect(await check(metricsPort)).toBe(1);
  });
});

/** The local temporal CLI (the namespace script calls `temporal`), or undefined to skip the real run. */
function localCli(): string | undefined {
  try {
    return findTemporalCli().path;
  } catch {
    return undefined;
  }
}
const cli = localCli();

describe.skipIf(cli === undefined)("the namespace one-shot script, against a dev server", () => {
  let server: DevServerHandle;

  beforeAll(async () => {
    server = await startDevServer({ port: 0, dbFilename: null, ui: false, searchAttributes: [] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("creates the namespace and registers the attributes, and is idempotent", async () => {
    const namespace = `compose-${Date.now()}`;
    const env = {
      ...process.env,
      PATH: [dirname(cli!), process.env.PATH ?? ""].join(delimiter),
      TEMPORAL_ADDRESS: server.address,
      NAMESPACE: namespace,
      SEARCH_ATTRIBUTES: service("temporal-create-namespace").environment?.SEARCH_ATTRIBUTES ?? "",
    };
    const run = () => promisify(execFile)("sh", [scriptPath("temporal-create-namespace")], { env });

    const first = await run();
    expect(first.stdout).toContain(`creating namespace ${namespace}`);
    const second = await run();
    expect(second.stdout).toContain(`namespace ${namespace} exists`);

    const { customAttributes } = await server.connection.operatorService.listSearchAttributes({ namespace });
    const registered = Object.fromEntries(Object.entries(customAttributes ?? {}).map(([k, v]) => [k, Number(v)]));
    // IndexedValueType numbers: Keyword 2, Int 3, Double 4, Bool 5.
    const indexed: Record<string, number> = { KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5 };
    expect(registered).toEqual(Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, indexed[k.type]])));
  });
});
