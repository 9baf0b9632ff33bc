/**
 * The card's state as the `cardState` query returns it, and the inputs/outputs of the card workflow.
 */
import type { AttemptRecord, CardSpec, DebugReport, DependencyArtifacts } from "./attempt.js";
import type { Cost } from "./cost.js";
import type { CardStatus, SettledStatus } from "./lifecycle.js";
import type { AgentConfig, CardTypeConfig, DebuggerConfig, Pricing } from "./squad.js";
import type { WebhookConfig } from "./notifications.js";
import type { MergeRecord, RepositoryTarget } from "./repository.js";
import type { CouncilPlan } from "./deliberation.js";

/** A human decision on an escalated card — PRODUCT.md ("approve / reject / clarify"). */
export type ReviewDecision = "approve" | "reject" | "clarify";

/** One audit-log entry: who decided what, when and why. */
export interface AuditEntry {
  /** ISO-8601 time the decision was applied. */
  at: string;
  /** Who acted: a reviewer name, or `squadflow` for the system's own decisions. */
  actor: string;
  /** What happened, e.g. `approve`, `reject`, `clarify`, `escalated`, `cost_alert`. */
  action: string;
  reason: string;
}

/** A status change, for timelines and metrics. */
export interface StatusChange {
  status: CardStatus;
  at: string;
}

/** A correction card folded into its parent (legacy `type: CORRECTION` cards). */
export interface LegacyCorrection {
  cardId: string;
  status: string;
  attempt: number;
  validationHistory: Record<string, unknown>[];
}

/** Everything the card workflow needs, resolved from the backlog file and squad config. */
export interface CardPlan {
  backlogId: string;
  card: CardSpec;
  agent: AgentConfig;
  /** Owner agent name (a key of `squad.agents`). */
  agentName: string;
  /**
   * A pooled owner (src/domain/routing.ts): `agentName` first, then the other pool members and the fallback,
   * each with its config — the order a worker tries them when an agent's binary or key is missing there.
   */
  ownerCandidates?: { name: string; agent: AgentConfig }[];
  typeConfig: CardTypeConfig;
  /** The type's peer reviewers (`typeConfig.peer_review.reviewers`), each with its agent config; absent = no peer review. */
  peerReviewers?: { name: string; agent: AgentConfig }[];
  /** Cost alert threshold, USD. */
  costAlertUsd: number;
  /** Attempts the seed already made (its `attempt` field); new attempts are numbered after them. */
  priorAttempts: number;
  legacyCorrections: LegacyCorrection[];
  /** Dependencies already DONE before this run (legacy DONE cards), with their artifacts. */
  resolvedDependencies: DependencyArtifacts[];
  /** The card's budget, USD: its `budget_usd`, else `squad.budget.per_card_usd`; absent = unlimited. */
  budgetUsd?: number;
  /** The squad's price table (USD per million tokens), when configured; pass it to the activities. */
  pricing?: Pricing;
  /** The debugging agent: the card type's `debugger`, else `squad.debugger`; absent = `rules`. */
  debugger?: DebuggerConfig;
  /** Webhooks of the squad's `notifications` (absent: none configured). */
  webhooks?: WebhookConfig[];
  /** `squad.budget.per_backlog_usd`, for the budget gate; absent = unlimited. */
  backlogBudgetUsd?: number;
  /** The backlog's git repository (`metadata.repository` / `--repo`); absent = isolated workspaces. */
  repository?: RepositoryTarget;
  /**
   * Set when the card deliberates (its `requires_deliberation`, else its type's `deliberation.default`):
   * the council that replaces the owner run of its attempts without feedback (issue 12).
   */
  deliberation?: CouncilPlan;
}

/** The card workflow's result. */
export interface CardOutcome {
  cardId: string;
  /** DONE or CANCELLED from the card itself; FAILED/CANCELLED when the backlog saw its workflow fail. */
  status: SettledStatus;
  attempt: number;
  artifacts: string[];
  cost: Cost;
  /** For BLOCKED: the dependency that blocked it and how it ended. */
  blockedBy?: { cardId: string; status: SettledStatus };
  /** For FAILED/CANCELLED: why. */
  message?: string;
  /** The card's final state (absent only when the card workflow itself failed), so closed cards can be read without a worker. */
  state?: CardState;
}

/** The `cardState` query's answer. */
export interface CardState {
  backlogId: string;
  card: CardSpec;
  status: CardStatus;
  /** Current attempt number (0 before the owner first runs). */
  attempt: number;
  /** Correction rounds run so far. */
  corrections: number;
  /** Tools a human allowed this card by approving a permission blocker (beyond its type's `allow_tools`). */
  grantedTools?: string[];
  attempts: AttemptRecord[];
  debugReports: DebugReport[];
  /** Paths relative to the workspaces root, of the latest attempt. */
  artifacts: string[];
  cost: Cost;
  /** True once cost.usd exceeded the alert threshold. */
  costAlert: boolean;
  auditLog: AuditEntry[];
  statusHistory: StatusChange[];
  /** Dependencies still awaited. */
  waitingFor: string[];
  /**
   * How each dependency heard of so far came to rest, with its artifacts (paths relative to the workspaces
   * root) — what a new run of the card after a failure starts from. Absent in states of older runs.
   */
  resolvedDependencies?: { cardId: string; status: SettledStatus; artifacts: string[] }[];
  legacyCorrections: LegacyCorrection[];
  blockedBy?: { cardId: string; status: SettledStatus };
  /**
   * True while the card waits for an ops decision (`retry` or `skip`): REJECTED by a human, or BLOCKED by
   * a dependency. Its workflow stays open until then.
   */
  settled: boolean;
  /** True while the backlog is paused: no new owner or validator run starts. */
  paused: boolean;
  /** True once the backlog's budget is used up: no new owner or judge run starts (the card escalates). */
  backlogBudgetExhausted: boolean;
  /** What the backlog had spent when it said its budget was used up, USD. */
  backlogSpentUsd?: number;
  /** With a repository, once DONE: the merge of the card's approved attempt into the integration branch. */
  merge?: MergeRecord;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
}
