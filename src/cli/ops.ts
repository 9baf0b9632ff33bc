/**
 * Ops commands (the operations issue): `retry`, `skip`, `cancel`, `pause`, `resume`. Each is also a raw
 * Temporal update or cancellation (see docs/operations.md), so tools without squadflow can do the same.
 */
import { WorkflowUpdateFailedError, type Client } from "@temporalio/client";
import type { Command } from "commander";
import {
  backlogWorkflowId,
  cardWorkflowId,
  parseOpsDecision,
  type AuditEntry,
  type OpsDecision,
} from "../domain/index.js";
import {
  pauseBacklogUpdate,
  resumeBacklogUpdate,
  retryFailedCardUpdate,
  skipFailedCardUpdate,
} from "../workflows/backlog.js";
import { retryCardUpdate, skipCardUpdate } from "../workflows/card.js";
import { assertRunCard, readBacklog, updateCard } from "./backlogs.js";
import { CliError } from "./errors.js";

function decision(o: { reviewer?: string; reason?: string }): OpsDecision {
  try {
    return parseOpsDecision({ reviewer: o.reviewer, reason: o.reason });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/**
 * `retry BACKLOG CARD`: a fresh attempt for a card at rest (REJECTED/BLOCKED) or whose workflow FAILED
 * (a new run of it, started by its backlog); its blocked dependents wait again.
 * @throws CliError(exit 2) for an unknown backlog/card, or a retry the card (or backlog) refused.
 */
export function retryCard(client: Client, backlogId: string, cardId: string, d: OpsDecision): Promise<AuditEntry> {
  return decideCard(client, backlogId, cardId, "retry", d);
}

/**
 * `skip BACKLOG CARD`: mark a waiting or FAILED card DONE by decision (audited); its dependents proceed.
 * @throws CliError(exit 2) for an unknown backlog/card, or a skip the card (or backlog) refused.
 */
export function skipCard(client: Client, backlogId: string, cardId: string, d: OpsDecision): Promise<AuditEntry> {
  return decideCard(client, backlogId, cardId, "skip", d);
}

/**
 * A card's workflow takes `retry` / `skip` itself while it runs; once it FAILED, the workflow that runs it
 * (the backlog, or its shard in a paged backlog) takes them as `retryFailedCard` / `skipFailedCard`.
 */
async function decideCard(
  client: Client,
  backlogId: string,
  cardId: string,
  kind: "retry" | "skip",
  d: OpsDecision,
): Promise<AuditEntry> {
  const state = await assertRunCard(client, backlogId, cardId);
  if (state.cards.find((c) => c.cardId === cardId)!.outcome?.status !== "FAILED") {
    return updateCard(client, backlogId, cardId, kind === "retry" ? retryCardUpdate : skipCardUpdate, d, state);
  }
  const runner = state.shards?.find((s) => s.cardIds.includes(cardId))?.workflowId ?? backlogWorkflowId(backlogId);
  try {
    return await client.workflow
      .getHandle(runner)
      .executeUpdate(kind === "retry" ? retryFailedCardUpdate : skipFailedCardUpdate, { args: [{ cardId, ...d }] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw new CliError(`refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}

/**
 * `pause` / `resume BACKLOG`: no new owner or validator run starts while paused; running ones finish.
 * @throws CliError(exit 2) for an unknown or finished backlog, or one already in that state.
 */
export async function setBacklogPaused(
  client: Client,
  backlogId: string,
  paused: boolean,
  d: OpsDecision,
): Promise<AuditEntry> {
  const { running } = await readBacklog(client, backlogId);
  if (!running) throw new CliError(`backlog "${backlogId}" has finished; nothing to ${paused ? "pause" : "resume"}`);
  try {
    return await client.workflow
      .getHandle(backlogWorkflowId(backlogId))
      .executeUpdate(paused ? pauseBacklogUpdate : resumeBacklogUpdate, { args: [d] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw new CliError(`refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}

/**
 * `cancel BACKLOG [CARD]`: Temporal cancellation. Running agents are killed (their activities are
 * cancelled); the cards end CANCELLED, and a cancelled card's dependents are BLOCKED.
 * @returns the workflow ID that was asked to cancel.
 */
export async function cancel(client: Client, backlogId: string, cardId?: string): Promise<string> {
  if (cardId) await assertRunCard(client, backlogId, cardId);
  else await readBacklog(client, backlogId);
  const workflowId = cardId ? cardWorkflowId(backlogId, cardId) : backlogWorkflowId(backlogId);
  await client.workflow.getHandle(workflowId).cancel();
  return workflowId;
}

/** Registers the ops commands; `withClient` and `print` come from the CLI so they behave like the rest. */
export function registerOpsCommands(
  program: Command,
  withClient: <T>(fn: (client: Client) => Promise<T>) => Promise<T>,
  print: (json: boolean, value: unknown, text: string) => void,
): void {
  const who = (c: Command) =>
    c
      .requiredOption("--reviewer <name>", "who decides (audited)")
      .requiredOption("--reason <text>", "why (audited)")
      .option("--json", "machine-readable output", false);

  who(
    program
      .command("retry <backlog> <card>")
      .description("a fresh attempt for a REJECTED, BLOCKED or FAILED card; its blocked dependents wait again"),
  ).action(async (backlogId: string, cardId: string, o) => {
    const entry = await withClient((client) => retryCard(client, backlogId, cardId, decision(o)));
    print(o.json, entry, `${cardId}: retry by ${entry.actor} at ${entry.at} — ${entry.reason}`);
  });
  who(
    program
      .command("skip <backlog> <card>")
      .description("mark a waiting or FAILED card DONE by decision; its dependents proceed"),
  ).action(async (backlogId: string, cardId: string, o) => {
    const entry = await withClient((client) => skipCard(client, backlogId, cardId, decision(o)));
    print(o.json, entry, `${cardId}: skip by ${entry.actor} at ${entry.at} — ${entry.reason}`);
  });
  for (const paused of [true, false]) {
    const name = paused ? "pause" : "resume";
    who(
      program
        .command(`${name} <backlog>`)
        .description(paused ? "start no new owner or validator run until resumed" : "resume a paused backlog"),
    ).action(async (backlogId: string, o) => {
      const entry = await withClient((client) => setBacklogPaused(client, backlogId, paused, decision(o)));
      print(o.json, entry, `${backlogId}: ${name} by ${entry.actor} at ${entry.at} — ${entry.reason}`);
    });
  }
  program
    .command("cancel <backlog> [card]")
    .description("cancel a backlog or one card (Temporal cancellation; running agents are killed; cards end CANCELLED)")
    .option("--json", "machine-readable output", false)
    .action(async (backlogId: string, cardId: string | undefined, o) => {
      const workflowId = await withClient((client) => cancel(client, backlogId, cardId));
      print(o.json, { cancelled: workflowId }, `cancellation requested: ${workflowId}`);
    });
}
