import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServerPids } from "../helpers/processes.js";
import {
  DevServerPortInUseError,
  startDevServer,
  TemporalCliNotFoundError,
  type DevServerHandle,
} from "../../src/temporal/dev-server.js";
import { SEARCH_ATTRIBUTES } from "../../src/temporal/search-attributes.js";

/** The server's `IndexedValueType` enum number of each SDK search attribute type. */
const INDEXED: Record<string, number> = { KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5 };

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** `PRAGMA journal_mode` through the sqlite3 CLI, or undefined when it is not installed. */
function sqliteJournalMode(db: string): string | undefined {
  try {
    return execFileSync("sqlite3", [db, "PRAGMA journal_mode;"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

describe("startDevServer", () => {
  let dir: string;
  let db: string;
  let server: DevServerHandle;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "squadflow-dev-server-"));
    db = join(dir, "nested", "temporal.db");
    server = await startDevServer({ port: 0, dbFilename: db, ui: false });
    port = portOf(server.address);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a persisted server on a free port with squadflow search attributes registered", async () => {
    expect(server.reused).toBe(false);
    expect(server.namespace).toBe("default");
    expect(server.uiUrl).toBeUndefined();
    expect(devServerPids(port)).toHaveLength(1);

    const { customAttributes } = await server.connection.operatorService.listSearchAttributes({
      namespace: "default",
    });
    for (const { name, type } of SEARCH_ATTRIBUTES) {
      expect(customAttributes?.[name], name).toBe(INDEXED[type]);
    }
  });

  it("keeps the SQLite file in WAL journal mode", () => {
    expect(existsSync(db)).toBe(true);
    expect(existsSync(`${db}-wal`)).toBe(true);
    const mode = sqliteJournalMode(db);
    if (mode !== undefined) expect(mode).toBe("wal");
  });

  it("reuses a Temporal server already listening on the port, and leaves it running on stop", async () => {
    const again = await startDevServer({ port, dbFilename: null, ui: false });
    expect(again.reused).toBe(true);
    expect(again.address).toBe(server.address);
    const info = await again.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
    await again.stop();

    expect(devServerPids(port)).toHaveLength(1);
    await expect(server.connection.workflowService.getSystemInfo({})).resolves.toBeTruthy();
  });

  it("leaves no server process behind after stop()", async () => {
    await server.stop();
    // The SDK kills the child and waits for it; allow the kernel a moment to reap it.
    const deadline = Date.now() + 5_000;
    while (devServerPids(port).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(devServerPids(port)).toEqual([]);
  });
});

describe("startDevServer refusals", () => {
  let squatter: Server;
  let squatterPort: number;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // Something that accepts TCP but does not speak gRPC.
    squatter = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined); // the probing client resets the connection
      socket.on("close", () => sockets.delete(socket));
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const address = squatter.address();
    squatterPort = typeof address === "object" && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => squatter.close(resolve));
  });

  it("refuses a port taken by something that is not Temporal", async () => {
    await expect(startDevServer({ port: squatterPort, dbFilename: null, ui: false })).rejects.toThrow(
      DevServerPortInUseError,
    );
  });

  it("reports a bad TEMPORAL_CLI_PATH as TemporalCliNotFoundError before starting anything", async () => {
    const start = startDevServer({
      port: 0,
      dbFilename: null,
      ui: false,
      cli: { env: { TEMPORAL_CLI_PATH: "/nonexistent/temporal" } },
    });
    await expect(start).rejects.toThrow(TemporalCliNotFoundError);
    await expect(start).rejects.toThrow(
      /TEMPORAL_CLI_PATH=\/nonexistent\/temporal does not exist[\s\S]*npm run setup:temporal/,
    );
  });
});

describe("startDevServer with ownProcessGroup", () => {
  let server: DevServerHandle;
  let port: number;

  beforeAll(async () => {
    server = await startDevServer({
      port: 0,
      dbFilename: null,
      ui: false,
      ownProcessGroup: true,
      reuseExisting: false,
    });
    port = portOf(server.address);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** The process group of `pid` (field 5 of /proc/<pid>/stat; the command may contain spaces). */
  const processGroup = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[2]);

  it("runs the server in a process group of its own, out of reach of a Ctrl-C to ours", async () => {
    const [pid] = devServerPids(port);
    expect(pid).toBeDefined();
    expect(processGroup(pid!)).toBe(pid);
    expect(processGroup(pid!)).not.toBe(processGroup(process.pid));
    const { customAttributes } = await server.connection.operatorService.listSearchAttributes({ namespace: "default" });
    for (const { name, type } of SEARCH_ATTRIBUTES) expect(customAttributes?.[name], name).toBe(INDEXED[type]);
  });

  it("leaves no server process behind after stop()", async () => {
    await server.stop();
    expect(devServerPids(port)).toEqual([]);
    await server.stop(); // idempotent
  });
});
