/**
 * Deterministic reproduction of what the worker-kill scenario finds by chance: ONE card whose agent runs
 * `CHAOS_AGENT_MS` (default 4000 ms), and its worker SIGKILLed `CHAOS_AIMED_KILLS` times (default 3),
 * each time while that card's agent is running (the kill is aimed, not random), the worker restarted at
 * once. Without faults the card ends DONE at attempt 1 with one agent run.
 *
 * It prints the card's outcome (status, attempt, the reasons of failed attempts) and the agent's
 * invocation log per attempt, and exits 1 when the card did not end DONE/1 or an attempt's agent completed
 * more than once.
 *
 * `npx tsx scripts/chaos/repro-owner-kills.ts` — activities get a 10 s heartbeat timeout (the CI
 * profile's) unless `CHAOS_HEARTBEAT_TIMEOUT=workflow` (the workflows' own 20 s: ~4 min instead of ~1).
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { delay, inFlight, readInvocations, waitIdle } from "./lib.js";
import { CI_PROFILE, closeContext, createContext, newWorker, squadOptions, startChaosBacklog } from "./scenarios.js";

async function main(): Promise<number> {
  const kills = Number(process.env.CHAOS_AIMED_KILLS ?? 3);
  const agentMs = Number(process.env.CHAOS_AGENT_MS ?? 4000);
  const hb = process.env.CHAOS_HEARTBEAT_TIMEOUT;
  const profile = {
    ...CI_PROFILE,
    minMs: agentMs,
    maxMs: agentMs,
    heartbeatTimeout: hb === "workflow" ? undefined : (hb ?? CI_PROFILE.heartbeatTimeout),
  };
  const t0 = Date.now();
  const log = (line: string) => console.log(`[repro +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const ctx = await createContext({ seed: 1, profile, log });
  const backlogId = "repro-owner-kills";
  const worker = newWorker(ctx, "repro", ctx.server.address);
  let ok = false;
  try {
    log(`run directory ${ctx.runDir}; heartbeat timeout ${profile.heartbeatTimeout ?? "20 s (the workflows' own)"}`);
    await worker.start();
    await startChaosBacklog(
      ctx.client,
      backlogId,
      [{ id: "SLOW", dependencies: [], mode: "ok" }],
      squadOptions(ctx),
      "chaos-repro",
    );
    for (let k = 1; k <= kills; k++) {
      const end = Date.now() + 300_000;
      let running: string[] = [];
      // A run of the live worker (an orphan of the previous kill may still be running: it does not count).
      const live = () => new Set(worker.currentPid !== undefined ? [worker.currentPid] : []);
      while (
        (running = inFlight(await readInvocations(ctx.logDir, backlogId), live())).length === 0 &&
        Date.now() < end
      )
        await delay(200);
      if (running.length === 0) throw new Error("the agent never ran again");
      await delay(Math.min(1_000, agentMs / 4));
      await worker.kill();
      log(`kill ${k}/${kills} while ${running.join(", ")} ran; worker restarted`);
      await worker.start();
    }
    const { view } = await waitIdle(ctx.client, backlogId, Date.now() + 300_000);
    const card = view?.cards.find((c) => c.cardId === "SLOW");
    console.log(`\nSLOW ended ${card?.status}/${card?.attempt} (without faults: DONE/1)`);
    for (const a of card?.state?.attempts ?? []) {
      console.log(
        `  attempt ${a.attempt}: ${
          a.passed
            ? "passed"
            : `failed: ${a.verdicts
                .filter((v) => !v.passed)
                .flatMap((v) => v.reasons)
                .join(" / ")}`
        }`,
      );
    }
    const runs = await readInvocations(ctx.logDir, backlogId);
    console.log("agent runs per attempt (invocation log):");
    for (const r of runs) {
      console.log(
        `  SLOW#${r.attempt}: ${r.started} started, ${r.completed} completed (${r.orphanCompleted} of them by an agent whose worker had died)`,
      );
    }
    ok = card?.status === "DONE" && card.attempt === 1 && runs.every((r) => r.completed <= 1);
    console.log(ok ? "\nrepro: no defect shown" : "\nrepro: DEFECT reproduced");
  } finally {
    await worker.stop();
    await worker.close();
    await closeContext(ctx, !ok);
  }
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`repro: ${(err as Error).stack ?? String(err)}`);
      process.exit(2);
    },
  );
}
