/**
 * The card workflow's state and its bookkeeping: the state (the `cardState` query's answer), status changes
 * checked against the lifecycle table, search attributes, attempts and cost (with the cost alert), the audit
 * log, and the messages a card sends when it comes to rest. What it heard of its dependencies is
 * `CardDependencies` (card-dependencies.ts), the decisions it waits for `CardDecisions`
 * (card-decisions.ts). Kept apart so that card.ts reads like the lifecycle diagram. Workflow code.
 *
 * Logs (workflow `log`: through a sink, never in history, not repeated on replay) one INFO line per
 * status change (`Card status changed`, with `from`) and per audit entry (`Card audit entry`, with
 * `actor`, `action`, `reason`), each with the card context `backlogId`, `cardId`, `attempt` (the card's,
 * 1-based; 0 before the first attempt) and `status` — the fields the JSON log format
 * (src/observability/logging.ts) writes as they are.
 */
import {
  condition,
  getExternalWorkflowHandle,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from "@temporalio/workflow";
import { isCostAlert } from "../domain/budget.js";
import { addCosts } from "../domain/cost.js";
import { cardWorkflowId, correctionCardId } from "../domain/ids.js";
import { transition } from "../domain/lifecycle.js";
import { cardCurrentDetails } from "../domain/ui-metadata.js";
import type {
  AttemptRecord,
  AuditEntry,
  CardOutcome,
  CardRelay,
  CardPlan,
  CardState,
  CardStatus,
  Cost,
  MergeRecord,
  MessageOrder,
  OpsDecision,
  SettledStatus,
} from "../domain/index.js";
import {
  cardCostSignal,
  cardReopenedSignal,
  cardSettledSignal,
  dependencyReopenedSignal,
  dependencyResolvedSignal,
  type CardSettled,
} from "./messages.js";
import { CardDecisions } from "./card-decisions.js";
import { CardDependencies } from "./card-dependencies.js";
import type { CardReopened } from "../domain/backlog-state.js";
import { CardCostAlertKey } from "../temporal/search-attributes.js";
import { CardAttributes, initialCardAttributes, upsertCardProgress, type CardProgress } from "./search-attributes.js";

/** The card's state and the helpers that keep it, its search attributes and its audit log current. */
export class CardLifecycle {
  readonly state: CardState;
  /** What the card heard of its dependencies (fed by the dependency signals). */
  readonly dependencies: CardDependencies;
  /** The human and ops decisions the card takes (fed by its updates and signals). */
  readonly decisions: CardDecisions;
  /** Messages this run has sent its dependents (the `seq` of the last one). */
  private sent = 0;
  /**
   * The search attributes, upserted at the end of a workflow task and only on a change; absent in cards
   * whose starter did not set them, which upsert their identity and every status and cost change.
   */
  private readonly attributes: CardAttributes | undefined;

  /**
   * @param relay present: the card tells its dependents itself when it comes to rest or is retried (and
   *   the backlog only of REJECTED/BLOCKED rests); absent: it tells only its backlog, which relays.
   * @param attributesSetAtStart true when the starter set the card's search attributes
   *   (`initialCardAttributes`: identity, TODO, attempt 0, $0).
   */
  constructor(
    readonly plan: CardPlan,
    paused = false,
    private readonly relay?: CardRelay,
    attributesSetAtStart = false,
  ) {
    const at = new Date().toISOString();
    this.dependencies = new CardDependencies(plan.card.dependencies, plan.resolvedDependencies, () =>
      this.dependenciesChanged(),
    );
    this.state = {
      backlogId: plan.backlogId,
      card: plan.card,
      status: "TODO",
      attempt: 0,
      corrections: 0,
      attempts: [],
      debugReports: [],
      artifacts: [],
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
      auditLog: [],
      statusHistory: [{ status: "TODO", at }],
      waitingFor: this.dependencies.unresolved(),
      resolvedDependencies: this.dependencies.settled(),
      legacyCorrections: plan.legacyCorrections,
      settled: false,
      paused,
      costAlert: false,
      backlogBudgetExhausted: false,
      createdAt: at,
      updatedAt: at,
    };
    this.decisions = new CardDecisions(this.state, (actor, action, reason) => this.audit(actor, action, reason));
    if (attributesSetAtStart) {
      this.attributes = new CardAttributes({ status: "TODO", attempt: 0, costUsd: 0, costAlert: false });
    } else {
      // Identity too, so that a card started on its own (not by a backlog) is just as visible.
      upsertSearchAttributes(initialCardAttributes(plan.backlogId, plan.card));
    }
    setCurrentDetails(cardCurrentDetails(this.state));
  }

  /** Shows the card's progress in its search attributes (`CardStatus`, `CardAttempt`, `CardCostUsd`, `CardCostAlert`). */
  private showProgress(): void {
    const progress: CardProgress = {
      status: this.state.status,
      attempt: this.state.attempt,
      costUsd: this.state.cost.usd,
      costAlert: this.state.costAlert,
    };
    if (this.attributes) return this.attributes.show(progress);
    upsertCardProgress(progress.status, progress.attempt, progress.costUsd);
  }

  // ---- dependencies ----

  private dependenciesChanged(): void {
    this.state.waitingFor = this.dependencies.unresolved();
    this.state.resolvedDependencies = this.dependencies.settled();
    this.touch();
  }

  // ---- status, attempts, cost ----

  /**
   * Moves the card to `status` (checked against the lifecycle table) at `attempt`; a change is recorded
   * in the status history and logged. Search attributes follow.
   * @throws IllegalTransitionError (from `transition`) for a move the lifecycle does not allow.
   */
  setStatus(status: CardStatus, attempt = this.state.attempt): void {
    const from = this.state.status;
    if (status !== from) {
      this.state.status = transition(this.plan.card.id, from, status);
      this.state.statusHistory.push({ status, at: new Date().toISOString() });
    }
    this.state.attempt = attempt;
    this.touch();
    this.showProgress();
    if (status !== from) log.info("Card status changed", { ...this.logContext(), from });
  }

  /** The card context of every log line of this card: backlog, card, the card's attempt and status. */
  logContext(): { backlogId: string; cardId: string; attempt: number; status: CardStatus } {
    return {
      backlogId: this.plan.backlogId,
      cardId: this.plan.card.id,
      attempt: this.state.attempt,
      status: this.state.status,
    };
  }

  /** The next attempt's number, 1-based: after the last recorded one (and, after a failed run, after the one it had begun). */
  nextAttempt(): number {
    const last = this.state.attempts[this.state.attempts.length - 1];
    return Math.max(last?.attempt ?? 0, this.attemptFloor) + 1;
  }

  /** The attempt a failed run of this card had reached (its workspace may hold that run's work): 0 in a first run. */
  private attemptFloor = 0;

  /**
   * A new run of a card whose previous run FAILED (terminated, timed out, failed), started by its backlog
   * on `retry` or `skip`: takes over that run's history (attempts, corrections, cost, audit log, status
   * history, dependencies heard of), records FAILED with `failure`, then the decision — `retry` →
   * TODO (a fresh attempt, numbered after every attempt the failed run began), `skip` → DONE.
   * @returns the status the card is now in (TODO or DONE).
   */
  restartAfterFailure(
    previous: CardState,
    failure: string,
    kind: "retry" | "skip",
    decision: OpsDecision,
  ): "TODO" | "DONE" {
    const s = this.state;
    s.attempts = previous.attempts;
    s.corrections = previous.corrections;
    s.debugReports = previous.debugReports;
    s.artifacts = previous.artifacts;
    s.cost = previous.cost;
    s.costAlert = previous.costAlert;
    s.auditLog = previous.auditLog;
    s.statusHistory = [...previous.statusHistory];
    s.createdAt = previous.createdAt;
    this.attemptFloor = previous.attempt;
    this.dependencies.takeOver(previous.resolvedDependencies ?? []);
    this.setStatus("FAILED", previous.attempt);
    this.audit("squadflow", "failed", `the card's workflow run failed: ${failure}`);
    this.audit(decision.reviewer, kind, decision.reason);
    const next = kind === "retry" ? "TODO" : "DONE";
    this.setStatus(next);
    return next;
  }

  /** Records an attempt and its cost. @returns true when this attempt raised the cost alert. */
  addAttempt(result: AttemptRecord): boolean {
    this.state.attempts.push(result);
    this.state.attempt = result.attempt;
    // In a repository the artifacts are repository paths (the dependents' worktrees hold them once merged).
    this.state.artifacts = result.git ? result.artifacts : result.artifacts.map((a) => `${result.workspace}/${a}`);
    return this.addCost(result.cost);
  }

  /** Records the merge of the card's approved attempt into the integration branch (shown in its state). */
  recordMerge(merge: MergeRecord): void {
    this.state.merge = merge;
    this.audit(
      "squadflow",
      "merged",
      `attempt ${merge.attempt} (${merge.branch}) merged into ${merge.integrationBranch} as ${merge.commit}`,
    );
  }

  /**
   * Turns an approved attempt into a rejected one because its merge conflicted (PRODUCT.md "Repository": a
   * merge conflict is a rejection whose feedback names the files): a failed `merge` verdict is added to
   * the attempt's record, which the next correction round reads as feedback.
   * @returns the attempt record, now failed.
   */
  rejectMerge(attempt: AttemptRecord, files: string[], cards: string[]): AttemptRecord {
    const branch = this.plan.repository?.integrationBranch ?? "the integration branch";
    const from = cards.length > 0 ? ` with the work of ${cards.join(", ")}` : "";
    const verdict = {
      validator: "merge" as const,
      passed: false,
      reasons: [
        `merge conflict${from} on ${branch} in ${files.join(", ")}: rework the change on top of ${branch} so that it keeps both`,
      ],
      at: new Date().toISOString(),
    };
    attempt.verdicts.push(verdict);
    attempt.passed = false;
    this.audit("squadflow", "merge_conflict", verdict.reasons[0]!);
    return attempt;
  }

  /**
   * Adds a cost (tokens, USD) to the card; past the alert threshold (default $1.00 — PRODUCT.md) raises
   * the alert once: audit entry, log, `CardCostAlert` search attribute, `costAlert` in the state.
   * @returns true when this cost raised the alert.
   */
  addCost(cost: Cost): boolean {
    this.state.cost = addCosts(this.state.cost, cost);
    this.touch();
    if (this.state.costAlert || !isCostAlert(this.state.cost.usd, this.plan.costAlertUsd)) {
      this.showProgress();
      return false;
    }
    this.state.costAlert = true;
    this.audit(
      "squadflow",
      "cost_alert",
      `cost $${this.state.cost.usd} exceeds the alert threshold $${this.plan.costAlertUsd}`,
    );
    log.warn("Card cost alert", { ...this.logContext(), costUsd: this.state.cost.usd });
    if (!this.attributes) upsertSearchAttributes([{ key: CardCostAlertKey, value: true }]);
    this.showProgress();
    return true;
  }

  /** Tells the backlog what was spent (for its budget). */
  async reportCost(usd: number): Promise<void> {
    await this.tellParent(cardCostSignal, { cardId: this.plan.card.id, usd });
  }

  /** Waits while the backlog is paused (no new owner or validator run starts). */
  async whileUnpaused(): Promise<void> {
    await condition(() => !this.state.paused);
  }

  setPaused(paused: boolean): void {
    this.state.paused = paused;
    this.touch();
  }

  // ---- audit log ----

  /** Appends an entry (who, what, why, when) to the audit log, and logs it. */
  audit(actor: string, action: string, reason: string): AuditEntry {
    const entry: AuditEntry = { at: new Date().toISOString(), actor, action, reason };
    this.state.auditLog.push(entry);
    this.touch();
    log.info("Card audit entry", { ...this.logContext(), actor, action, reason });
    return entry;
  }

  // ---- coming to rest ----

  /**
   * Marks the card as waiting for ops (REJECTED, BLOCKED) or not, and says that it came to rest: to its
   * dependents directly (with `relay`), or to the backlog, which relays. With `relay` the backlog hears of a
   * rest that keeps the workflow open, and of the dependents that could not be signalled (not started yet),
   * which it tells once they have started. Returns once every signal is acknowledged, so that the next
   * message about this card is sent only after this one arrived.
   */
  async settle(status: SettledStatus): Promise<void> {
    const waitsForOps = status === "REJECTED" || status === "BLOCKED";
    this.state.settled = waitsForOps;
    this.touch();
    const settled: CardSettled = { cardId: this.plan.card.id, status, artifacts: this.state.artifacts };
    if (!this.relay) return this.tellParent(cardSettledSignal, settled);
    const ordered = { ...settled, ...this.nextOrder() };
    const undelivered = await this.tellDependents(dependencyResolvedSignal, ordered);
    if (waitsForOps || undelivered.length > 0)
      await this.tellParent(cardSettledSignal, { ...ordered, ...(undelivered.length > 0 ? { undelivered } : {}) });
  }

  /** Says that a resting card was retried: to its dependents and the backlog (with `relay`), or to the backlog. */
  async reopen(): Promise<void> {
    this.state.settled = false;
    this.state.blockedBy = undefined;
    this.touch();
    if (!this.relay) return this.tellParent(cardReopenedSignal, { cardId: this.plan.card.id });
    const reopened: CardReopened = { cardId: this.plan.card.id, ...this.nextOrder() };
    const undelivered = await this.tellDependents(dependencyReopenedSignal, reopened);
    await this.tellParent(cardReopenedSignal, { ...reopened, ...(undelivered.length > 0 ? { undelivered } : {}) });
  }

  private nextOrder(): MessageOrder {
    return { epoch: this.relay?.epoch ?? 0, seq: ++this.sent };
  }

  /**
   * Signals every dependent's workflow (derived ID, current run).
   * @returns the dependents that could not be signalled: not started yet, or ended.
   */
  private async tellDependents<T>(
    signal: Parameters<ReturnType<typeof getExternalWorkflowHandle>["signal"]>[0],
    arg: T,
  ): Promise<string[]> {
    const undelivered: string[] = [];
    await Promise.all(
      (this.relay?.dependents ?? []).map(async (id) => {
        try {
          await getExternalWorkflowHandle(cardWorkflowId(this.plan.backlogId, id)).signal(
            signal as never,
            arg as never,
          );
        } catch (err) {
          undelivered.push(id);
          log.info("Dependent not running", { ...this.logContext(), dependent: id, error: (err as Error).message });
        }
      }),
    );
    return undelivered.sort();
  }

  private async tellParent<T>(
    signal: Parameters<ReturnType<typeof getExternalWorkflowHandle>["signal"]>[0],
    arg: T,
  ): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return;
    try {
      // No run ID: a backlog that continued-as-new still gets it.
      await getExternalWorkflowHandle(parent.workflowId).signal(signal as never, arg as never);
    } catch (err) {
      log.warn("Could not tell the backlog", { ...this.logContext(), error: (err as Error).message });
    }
  }

  correctionAttributes(round: number) {
    return initialCardAttributes(this.plan.backlogId, this.plan.card, correctionCardId(this.plan.card.id, round));
  }

  finish(status: "DONE" | "CANCELLED", message?: string): CardOutcome {
    this.setStatus(status);
    this.attributes?.flush(); // now: nothing may follow the workflow's completion
    this.state.settled = false;
    this.state.completedAt = this.state.updatedAt;
    return {
      cardId: this.plan.card.id,
      status,
      attempt: this.state.attempt,
      artifacts: this.state.artifacts,
      cost: this.state.cost,
      blockedBy: this.state.blockedBy,
      message,
      state: this.state,
    };
  }

  private touch(): void {
    this.state.updatedAt = new Date().toISOString();
    // The Temporal UI's "current details": kept in the worker's memory and read by the UI's metadata query,
    // so updating it on every change costs no history event.
    setCurrentDetails(cardCurrentDetails(this.state));
  }
}
