/**
 * The shapes the backlog and card workflows answer and exchange, as the client, the activities and the
 * workflows all see them (the contract of src/contract.ts): the backlog's state, its budget, how a card
 * came to rest, a shard's registration, a correction round's state. Pure types.
 */
import type { AttemptRecord, DependencyArtifacts } from "./attempt.js";
import type { AuditEntry, CardOutcome } from "./card-state.js";
import type { MessageOrder } from "./dependency-order.js";
import type { CardStatus, SettledStatus } from "./lifecycle.js";

/** One card as the backlog sees it. */
export interface BacklogCardEntry {
  cardId: string;
  workflowId: string;
  type: string;
  dependencies: string[];
  /** How the card last came to rest (absent while it works or waits). */
  settled?: SettledStatus;
  /** Set once the card workflow ended. */
  outcome?: CardOutcome;
}

/** The file's `metadata` and its legacy cards (DONE and CORRECTION), kept for `export`. */
export interface BacklogSource {
  file: string;
  metadata: Record<string, unknown>;
  legacyCards: Record<string, unknown>[];
}

/** A shard of a paged backlog, as the backlog sees it (see src/domain/pages.ts). */
export interface ShardEntry {
  /** 0-based page number. */
  index: number;
  workflowId: string;
  cardIds: string[];
  /** True once every card of the shard has started. */
  started: boolean;
  /** True once the shard workflow ended (every card of it ended). */
  finished: boolean;
  /** Cards per final status, once finished. */
  counts?: Record<string, number>;
  /** USD its cards spent, once finished. */
  costUsd?: number;
}

/** The `backlogState` query's answer (backlog and shard workflows alike). */
export interface BacklogState {
  backlogId: string;
  startedAt: string;
  /** The cards this workflow runs; empty for a paged backlog, whose cards are in its shards. */
  cards: BacklogCardEntry[];
  done: DependencyArtifacts[];
  source: BacklogSource;
  /** True while paused: no new owner or validator run starts. */
  paused: boolean;
  /** Backlog-level decisions (pause, resume): who, when, why. */
  auditLog: AuditEntry[];
  /** USD spent by its cards, as reported (kept only when the backlog has a budget). */
  spentUsd: number;
  /** True once `squad.budget.per_backlog_usd` is used up. */
  budgetExhausted: boolean;
  finished: boolean;
  /** A paged backlog: how many pages it expects and has received, and its shards. */
  pages?: { expected: number; received: number };
  shards?: ShardEntry[];
  /** A shard: its page number (0-based). */
  shardIndex?: number;
  /** The repository the backlog delivers into (issue 9), and what happened at its end. */
  repository?: BacklogRepositoryState;
}

/** A backlog's repository as `status --json` shows it: where, which branches, and the push at the end. */
export interface BacklogRepositoryState {
  /** The local repository (absolute), or the clone URL. */
  path?: string;
  url?: string;
  baseBranch: string;
  /** The integration branch, `squadflow/<backlogId>`. */
  branch: string;
  /** Set once the backlog ended and its worktrees (and, unless kept, attempt branches) were cleaned up. */
  cleanedUp?: boolean;
  /** The push of the integration branch at the end (`metadata.push`): what was pushed, or why it was refused. */
  push?: { remote: string; branch: string; commit?: string; error?: string };
}

/**
 * How a card's work came to rest, with its artifacts (relative to the workspaces root). `epoch`/`seq`
 * (dependency-order.ts): where the message stands among the others about this card; absent in messages
 * of workflows started before messages were ordered.
 */
export interface CardSettled extends Partial<MessageOrder> {
  cardId: string;
  status: SettledStatus;
  artifacts: string[];
  /**
   * Card → backlog only: the dependents the card could not signal (their workflows not started yet, or
   * ended); the backlog passes the message on to those still to come once every card has started.
   */
  undelivered?: string[];
}

/** A card that had come to rest was retried: its dependents wait for it again. `epoch`/`seq` as in {@link CardSettled}. */
export interface CardReopened extends Partial<MessageOrder> {
  cardId: string;
  /** Card → backlog only, as in {@link CardSettled}. */
  undelivered?: string[];
}

/** What the backlog's budget stands at: USD spent by its cards as reported, the budget, whether it is used up. */
export interface BacklogBudget {
  /** USD its cards reported spending so far (owner, judge and debugging runs). */
  spentUsd: number;
  /** `squad.budget.per_backlog_usd`; absent = unlimited. */
  budgetUsd?: number;
  /** True once `spentUsd` reached `budgetUsd`. */
  exhausted: boolean;
}

/** A page's shard, as `squadflow start` registers it with `addCards` (it started the shard with the page). */
export interface ShardRegistration {
  /** 0-based page number. */
  index: number;
  /** `shardWorkflowId(backlogId, index + 1)`. */
  workflowId: string;
  cardIds: string[];
}

/** State of a correction round, for `temporal workflow query`. */
export interface CorrectionState {
  round: number;
  attempt: number;
  status: CardStatus;
  result?: AttemptRecord;
}
