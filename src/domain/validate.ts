/**
 * Whole-file validation of a backlog before anything starts (issue "Backlog input"): JSON syntax, schema,
 * duplicate ids, unknown/self dependencies, cycles, unknown card types and owners. Every problem is
 * collected (not just the first) and names the file, the card and the field. Pure: the caller reads files.
 */
import { z } from "zod";
import type { DependencyArtifacts } from "./attempt.js";
import { BacklogFileSchema, CORRECTION_TYPE, type BacklogCard, type BacklogFile } from "./backlog.js";
import type { CardPlan, LegacyCorrection } from "./card-state.js";
import { findCycles, type GraphNode } from "./graph.js";
import { BACKLOG_ID_PATTERN, CARD_ID_PATTERN } from "./ids.js";
import { branchNameProblem, integrationBranchName, type RepositoryTarget } from "./repository.js";
import { findPrice } from "./pricing.js";
import { ownerNames, routeOwner } from "./routing.js";
import { TOP_SCORE, type CouncilPlan } from "./deliberation.js";
import { SquadSchema, type AgentConfig, type SquadConfig } from "./squad.js";

/** One problem found in a backlog: where (file, card, field) and what. */
export interface BacklogIssue {
  file: string;
  /** The card concerned, when the problem is in a card. */
  cardId?: string;
  /** Dotted path of the field, e.g. `cards[3].dependencies[0]` or `squad.card_types.SPEC.owner`. */
  field: string;
  /** 1-based line in `file`, when known (plan documents: `squadflow plan`, src/domain/plan.ts). */
  line?: number;
  message: string;
}

/** Formats an issue as one line: `backlog.json: card ARQ-003, field cards[2].priority: …` (`plan.md:12: …` with a line). */
export function formatIssue(i: BacklogIssue): string {
  const card = i.cardId ? `card ${i.cardId}, ` : "";
  return `${i.file}${i.line !== undefined ? `:${i.line}` : ""}: ${card}field ${i.field || "(root)"}: ${i.message}`;
}

/** Thrown when a backlog has problems; `issues` holds all of them. Not retryable: fix the file. */
export class BacklogValidationError extends Error {
  readonly type = "BacklogValidationError";
  constructor(readonly issues: BacklogIssue[]) {
    super(
      `Backlog is invalid (${issues.length} problem${issues.length === 1 ? "" : "s"}); nothing was started:\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
    );
    this.name = "BacklogValidationError";
  }
}

/** A validated backlog, ready to start. */
export interface BacklogPlan {
  backlogId: string;
  /** Cards to run, each with everything its workflow needs. */
  cards: CardPlan[];
  /** Cards already DONE in the file: not run again, resolved dependencies of the others. */
  done: DependencyArtifacts[];
  /** The file as parsed, kept so that `export` can write the same shape back. */
  source: BacklogFile;
  /** `squad.budget.per_backlog_usd`: the whole backlog's budget, USD; absent = unlimited. */
  budgetUsd?: number;
  /** The repository the backlog delivers into, once the client has checked it (`withRepository`). */
  repository?: RepositoryTarget;
}

/**
 * The plan with its repository: set on the plan and on every card plan (each card workflow works in it).
 * @param target a repository checked by the client before anything starts (see `inspectRepository`).
 */
export function withRepository(plan: BacklogPlan, target: RepositoryTarget): BacklogPlan {
  return { ...plan, repository: target, cards: plan.cards.map((c) => ({ ...c, repository: target })) };
}

/** Options of `planBacklog`. */
export interface PlanOptions {
  /** File name used in messages. */
  file: string;
  /** A squad config from a separate file (overrides the backlog's `squad` section). */
  squad?: { file: string; text: string };
  /** Backlog id to use instead of `metadata.backlog_id` / the file name. */
  backlogId?: string;
  /**
   * Directory that the artifact paths of legacy DONE cards are relative to (the backlog file's
   * directory, absolute); they are handed to dependents joined to it. Absent: left relative.
   */
  artifactBase?: string;
  /** `--repo`: the repository to deliver into, overriding `metadata.repository` (only its presence matters here). */
  repository?: string;
}

function pathToString(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

function parseJson(text: string, file: string, issues: BacklogIssue[]): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    issues.push({ file, field: "", message: `not valid JSON: ${(err as Error).message}` });
    return undefined;
  }
}

function zodIssues(error: z.ZodError, file: string, raw: unknown, prefix = ""): BacklogIssue[] {
  return error.issues.map((iss) => {
    const field = prefix + pathToString(iss.path);
    let cardId: string | undefined;
    if (iss.path[0] === "cards" && typeof iss.path[1] === "number") {
      const card = (raw as { cards?: unknown[] }).cards?.[iss.path[1]];
      const id = (card as { id?: unknown } | undefined)?.id;
      cardId = typeof id === "string" && id ? id : `#${iss.path[1] + 1}`;
    }
    return { file, cardId, field, message: iss.message };
  });
}

function defaultBacklogId(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? "backlog";
  const stem = base
    .replace(/\.json$/i, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return stem.slice(0, 100) || "backlog";
}

/**
 * `record[key]` when `key` is the record's own key, else undefined. Squad `agents` and `card_types` are plain
 * objects, so a bare `record[key]` would find `constructor`, `toString`, `__proto__`… on Object.prototype and
 * accept a card type or owner of that name with a function as its config.
 */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function artifactPath(a: BacklogCard["artifacts"][number]): string {
  return typeof a === "string" ? a : a.path;
}

/**
 * Validates a backlog file's text and resolves it into a plan.
 * @throws BacklogValidationError with every problem found; nothing is returned half-valid.
 */
export function planBacklog(text: string, opts: PlanOptions): BacklogPlan {
  const { file } = opts;
  const issues: BacklogIssue[] = [];
  const raw = parseJson(text, file, issues);
  if (raw === undefined) throw new BacklogValidationError(issues);

  const parsed = BacklogFileSchema.safeParse(raw);
  let squad: SquadConfig | undefined;
  let squadFile = file;
  let squadPrefix = "squad.";
  if (opts.squad) {
    squadFile = opts.squad.file;
    squadPrefix = "";
    const rawSquad = parseJson(opts.squad.text, squadFile, issues);
    if (rawSquad !== undefined) {
      const s = SquadSchema.safeParse(rawSquad);
      if (s.success) squad = s.data;
      else issues.push(...zodIssues(s.error, squadFile, rawSquad));
    }
  }
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, file, raw));
    // Still report the dependency problems of whatever cards have usable ids: all errors at once.
    issues.push(...graphIssues(file, lenientCards(raw)));
    throw new BacklogValidationError(issues);
  }
  const backlog = parsed.data;
  // A squad file overrides the section even when it is invalid: never fall back to the overridden section.
  if (!opts.squad) squad = backlog.squad;
  if (!squad && !opts.squad) {
    issues.push({
      file,
      field: "squad",
      message: 'missing: give a "squad" section or a separate squad file (--squad)',
    });
  }

  const backlogId = opts.backlogId ?? backlog.metadata.backlog_id ?? defaultBacklogId(file);
  if (!BACKLOG_ID_PATTERN.test(backlogId)) {
    issues.push({
      file,
      field: "metadata.backlog_id",
      message: `"${backlogId}" must be 1–100 letters, digits, ".", "_" or "-"`,
    });
  }
  if (backlog.cards.length === 0) issues.push({ file, field: "cards", message: "no cards" });
  if (opts.repository ?? backlog.metadata.repository) issues.push(...branchNameIssues(file, backlogId, backlog.cards));

  const byId = new Map<string, BacklogCard>();
  for (const card of backlog.cards) if (!byId.has(card.id)) byId.set(card.id, card);
  issues.push(...graphIssues(file, backlog.cards));

  // Per-card references.
  backlog.cards.forEach((card, i) => {
    const at = `cards[${i}]`;
    if (card.type === CORRECTION_TYPE) {
      if (!card.parent_card) {
        issues.push({
          file,
          cardId: card.id,
          field: `${at}.parent_card`,
          message: "a CORRECTION card must name its parent_card",
        });
      } else if (!byId.has(card.parent_card)) {
        issues.push({
          file,
          cardId: card.id,
          field: `${at}.parent_card`,
          message: `unknown parent card "${card.parent_card}"`,
        });
      }
      return;
    }
    if (card.status === "DONE") return;
    // A legacy correction card is never run (it is folded into its parent's history), so nothing would ever
    // resolve a dependency on it: the dependent would wait as TODO forever.
    card.dependencies.forEach((dep, j) => {
      if (byId.get(dep)?.type === CORRECTION_TYPE) {
        const parent = byId.get(dep)!.parent_card;
        issues.push({
          file,
          cardId: card.id,
          field: `${at}.dependencies[${j}]`,
          message: `dependency "${dep}" is a legacy CORRECTION card, which never runs${parent ? `; depend on its parent "${parent}"` : ""}`,
        });
      }
    });
    if (!squad) return;
    const typeConfig = own(squad.card_types, card.type);
    if (!typeConfig) {
      issues.push({
        file,
        cardId: card.id,
        field: `${at}.type`,
        message: `unknown card type "${card.type}" (squad card_types: ${Object.keys(squad.card_types).join(", ") || "none"})`,
      });
    }
    if (card.owner && !own(squad.agents, card.owner)) {
      issues.push({ file, cardId: card.id, field: `${at}.owner`, message: `unknown owner agent "${card.owner}"` });
    }
    if (card.requires_deliberation === true && typeConfig && !typeConfig.deliberation) {
      issues.push({
        file,
        cardId: card.id,
        field: `${at}.requires_deliberation`,
        message: `card type "${card.type}" has no council: add ${squadPrefix}card_types.${card.type}.deliberation, or remove requires_deliberation`,
      });
    }
    const maxTurnsProblem = cardMaxTurnsProblem(card, squad);
    if (maxTurnsProblem) issues.push({ file, cardId: card.id, field: `${at}.max_turns`, message: maxTurnsProblem });
  });
  if (squad) {
    for (const [type, cfg] of Object.entries(squad.card_types)) {
      const ownerField = (i: number, isFallback: boolean): string =>
        typeof cfg.owner === "string" ? "owner" : isFallback ? "owner.fallback" : `owner.pool[${i}].agent`;
      ownerNames(cfg.owner).forEach((name, i) => {
        if (own(squad.agents, name)) return;
        const isFallback = typeof cfg.owner !== "string" && i === cfg.owner.pool.length;
        issues.push({
          file: squadFile,
          field: `${squadPrefix}card_types.${type}.${ownerField(i, isFallback)}`,
          message: `unknown owner agent "${name}" (agents: ${Object.keys(squad.agents).join(", ") || "none"})`,
        });
      });
      issues.push(...peerReviewIssues(squad, backlog, type, squadFile, squadPrefix));
      if (cfg.judge.kind === "rubric") {
        cfg.judge.criteria.forEach((c, k) => {
          if (c.check.type !== "regex") return;
          try {
            new RegExp(c.check.pattern, "m");
          } catch (err) {
            issues.push({
              file: squadFile,
              field: `${squadPrefix}card_types.${type}.judge.criteria[${k}].check.pattern`,
              message: `invalid regular expression: ${(err as Error).message}`,
            });
          }
        });
      }
    }
  }

  if (squad) issues.push(...agentKindIssues(squad, backlog, squadFile, squadPrefix));
  if (squad) issues.push(...deliberationIssues(squad, squadFile, squadPrefix));
  if (squad) issues.push(...planSettingIssues(squad, squadFile, squadPrefix));

  if (issues.length > 0) throw new BacklogValidationError(issues);
  return resolvePlan(backlogId, backlog, squad!, opts.artifactBase);
}

/**
 * With a repository, the backlog id and every card id become parts of git branch names
 * (`squadflow/<backlogId>`, `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`, src/domain/repository.ts): ids git refuses in a branch
 * name (`a..b`, `x.lock`, a trailing `.`) are refused here, before anything starts.
 */
function branchNameIssues(file: string, backlogId: string, cards: BacklogCard[]): BacklogIssue[] {
  const issues: BacklogIssue[] = [];
  const own = branchNameProblem(integrationBranchName(backlogId));
  if (own)
    issues.push({
      file,
      field: "metadata.backlog_id",
      message: `"${backlogId}" cannot name the git branch squadflow/${backlogId}: it ${own}`,
    });
  cards.forEach((card, i) => {
    if (card.status === "DONE" || card.type === CORRECTION_TYPE || !CARD_ID_PATTERN.test(card.id)) return;
    const problem = branchNameProblem(`${card.id}/attempt-1`);
    if (problem)
      issues.push({
        file,
        cardId: card.id,
        field: `cards[${i}].id`,
        message: `"${card.id}" cannot be part of a git branch name: it ${problem}`,
      });
  });
  return issues;
}

/**
 * The councils of the card types (issue 12): every council agent and the architect name an agent of
 * `squad.agents` (or the architect is `top-score`); council agent names become path and branch parts
 * (`…/attempt-<n>/<agent>`), so they follow the card id rules; `top_k` is at most the council's size; a
 * rubric scorer's regular expressions compile.
 */
function deliberationIssues(squad: SquadConfig, squadFile: string, prefix: string): BacklogIssue[] {
  const issues: BacklogIssue[] = [];
  const known = Object.keys(squad.agents).join(", ") || "none";
  for (const [type, cfg] of Object.entries(squad.card_types)) {
    const d = cfg.deliberation;
    if (!d) continue;
    const at = `${prefix}card_types.${type}.deliberation`;
    d.agents.forEach((name, i) => {
      if (!own(squad.agents, name))
        issues.push({
          file: squadFile,
          field: `${at}.agents[${i}]`,
          message: `unknown agent "${name}" (agents: ${known})`,
        });
      else if (!CARD_ID_PATTERN.test(name) || branchNameProblem(`x/${name}-r1`)) {
        issues.push({
          file: squadFile,
          field: `${at}.agents[${i}]`,
          message: `"${name}" cannot name a proposal's worktree and branch: use letters, digits, ".", "_" or "-"`,
        });
      }
    });
    if (d.architect !== TOP_SCORE && !own(squad.agents, d.architect)) {
      issues.push({
        file: squadFile,
        field: `${at}.architect`,
        message: `unknown agent "${d.architect}": name an agent (agents: ${known}) or "${TOP_SCORE}"`,
      });
    }
    if (d.top_k > d.agents.length) {
      issues.push({
        file: squadFile,
        field: `${at}.top_k`,
        message: `${d.top_k} is more than the council's ${d.agents.length} agents`,
      });
    }
    if (d.scorer.kind === "rubric") {
      d.scorer.criteria.forEach((c, k) => {
        if (c.check.type !== "regex") return;
        try {
          new RegExp(c.check.pattern, "m");
        } catch (err) {
          issues.push({
            file: squadFile,
            field: `${at}.scorer.criteria[${k}].check.pattern`,
            message: `invalid regular expression: ${(err as Error).message}`,
          });
        }
      });
    }
  }
  return issues;
}

/** `squad.roles` naming card types that do not exist, and a `squad.planner` that is no agent (`squadflow plan`). */
function planSettingIssues(squad: SquadConfig, squadFile: string, prefix: string): BacklogIssue[] {
  const issues: BacklogIssue[] = [];
  for (const [role, type] of Object.entries(squad.roles ?? {})) {
    if (own(squad.card_types, type)) continue;
    issues.push({
      file: squadFile,
      field: `${prefix}roles.${role}`,
      message: `unknown card type "${type}" (card_types: ${Object.keys(squad.card_types).join(", ") || "none"})`,
    });
  }
  if (squad.planner !== undefined && !own(squad.agents, squad.planner)) {
    issues.push({
      file: squadFile,
      field: `${prefix}planner`,
      message: `unknown agent "${squad.planner}" (agents: ${Object.keys(squad.agents).join(", ") || "none"})`,
    });
  }
  return issues;
}

/** The council of a card that deliberates (its `requires_deliberation`, else its type's `default`), else undefined. */
function councilOf(card: BacklogCard, squad: SquadConfig): CouncilPlan | undefined {
  const d = squad.card_types[card.type]!.deliberation;
  if (!d || !(card.requires_deliberation ?? d.default)) return undefined;
  return {
    members: d.agents.map((name) => ({ name, agent: squad.agents[name]! })),
    rounds: d.rounds,
    scorer: d.scorer,
    architect: d.architect === TOP_SCORE ? TOP_SCORE : { name: d.architect, agent: squad.agents[d.architect]! },
    topK: d.top_k,
  };
}

/**
 * Agent kinds that can review (src/activities/peer-review.ts): `command` (offline), `llm` (an API call), and
 * the CLI kinds `claude-code`, `codex`, `gemini` (run read-only).
 */
const REVIEWER_KINDS: readonly AgentConfig["kind"][] = ["command", "llm", "claude-code", "codex", "gemini"];

/**
 * Problems of card type `type`'s `peer_review`: every reviewer is a known agent of a kind that can review,
 * and another agent than the owner — the type's owner (every pool member and the fallback) and the owner of
 * any card of the type that names its own (issue 12: "another agent than the owner").
 */
function peerReviewIssues(
  squad: SquadConfig,
  backlog: BacklogFile,
  type: string,
  squadFile: string,
  prefix: string,
): BacklogIssue[] {
  const cfg = squad.card_types[type]!;
  if (!cfg.peer_review) return [];
  const issues: BacklogIssue[] = [];
  const cardOwners = backlog.cards.filter((c) => c.type === type && c.owner && c.status !== "DONE");
  cfg.peer_review.reviewers.forEach((name, i) => {
    const field = `${prefix}card_types.${type}.peer_review.reviewers[${i}]`;
    const agent = own(squad.agents, name);
    if (!agent) {
      issues.push({
        file: squadFile,
        field,
        message: `unknown reviewer agent "${name}" (agents: ${Object.keys(squad.agents).join(", ") || "none"})`,
      });
      return;
    }
    if (!REVIEWER_KINDS.includes(agent.kind)) {
      issues.push({
        file: squadFile,
        field,
        message: `agent "${name}" is of kind "${agent.kind}", which cannot review (reviewer kinds: ${REVIEWER_KINDS.join(", ")})`,
      });
    }
    if (ownerNames(cfg.owner).includes(name)) {
      issues.push({
        file: squadFile,
        field,
        message: `reviewer "${name}" is an owner of card type ${type}: a peer reviewer must be another agent than the owner`,
      });
    }
    for (const card of cardOwners.filter((c) => c.owner === name)) {
      issues.push({
        file: squadFile,
        cardId: card.id,
        field,
        message: `reviewer "${name}" is the owner of card ${card.id}: a peer reviewer must be another agent than the owner`,
      });
    }
  });
  return issues;
}

/** What a card's own turn-limit flag is called, by owner agent kind; kinds without one are absent. */
const MAX_TURNS_FLAG: Partial<Record<AgentConfig["kind"], string>> = { "claude-code": "--max-turns" };

/**
 * Why a card's `max_turns` cannot be honoured, or undefined: its owner agent (the card's `owner`, else its
 * type's) has a kind without a turn-limit flag — refused rather than silently ignored, like an agent-level
 * `max_turns` of codex or gemini (squad.ts). Unknown owners and types are reported elsewhere.
 */
function cardMaxTurnsProblem(card: BacklogCard, squad: SquadConfig): string | undefined {
  if (card.max_turns === undefined) return undefined;
  const typeOwner = own(squad.card_types, card.type)?.owner;
  // A pooled type may hand the card to any member (or the fallback): every one must honour the limit.
  const names = card.owner !== undefined ? [card.owner] : typeOwner !== undefined ? ownerNames(typeOwner) : [];
  for (const name of names) {
    const agent = own(squad.agents, name);
    if (!agent || MAX_TURNS_FLAG[agent.kind]) continue;
    const why =
      agent.kind === "gemini"
        ? "gemini has no max-turns flag (its turn limit is the maxSessionTurns setting)"
        : `${agent.kind} agents have no max-turns flag`;
    return `not supported by owner agent "${name}": ${why}; remove it, or give the card a claude-code owner`;
  }
  return undefined;
}

/** The model an owner agent runs, when its config names one (`command` agents never do). */
function agentModel(agent: AgentConfig | undefined): string | undefined {
  return agent && agent.kind !== "command" ? agent.model : undefined;
}

/**
 * Cross-field rules of the agent kinds (issue "Agent kinds"):
 * - an `llm` judge (or panel member) does not grade with the model of the owner agent that produced the
 *   artifacts (type owner and per-card overrides), unless `allow_owner_model`;
 * - with `squad.pricing`, every configured model has a price, and `codex` agents name their model (Codex
 *   reports tokens but no model, so the config's model is what prices them);
 * - with a budget (`squad.budget` or a card's `budget_usd`), `squad.pricing` is required when a component
 *   that reports no USD (codex, gemini, llm agents, llm judges and debuggers) is configured.
 */
function agentKindIssues(squad: SquadConfig, backlog: BacklogFile, squadFile: string, prefix: string): BacklogIssue[] {
  const issues: BacklogIssue[] = [];
  const pricing = squad.pricing;
  const priced: { field: string; model: string }[] = [];
  const unreported: string[] = [];
  for (const [name, agent] of Object.entries(squad.agents)) {
    const at = `${prefix}agents.${name}`;
    if (agent.kind === "command") continue;
    if (agent.kind !== "claude-code") unreported.push(`${at} (${agent.kind})`);
    if (agent.model !== undefined) priced.push({ field: `${at}.model`, model: agent.model });
    else if (agent.kind === "codex" && pricing) {
      issues.push({
        file: squadFile,
        field: `${at}.model`,
        message: "required with squad.pricing: Codex reports tokens but no model, so this model prices them",
      });
    }
  }
  const judgeModels = (type: string): { field: string; model: string }[] => {
    const judge = squad.card_types[type]!.judge;
    if (judge.kind !== "llm") return [];
    const at = `${prefix}card_types.${type}.judge`;
    return [
      { field: `${at}.model`, model: judge.model },
      ...(judge.panel?.models ?? []).map((m, i) => ({ field: `${at}.panel.models[${i}]`, model: m.model })),
    ];
  };
  for (const [type, cfg] of Object.entries(squad.card_types)) {
    const models = judgeModels(type);
    if (models.length > 0) unreported.push(`${prefix}card_types.${type}.judge (llm)`);
    priced.push(...models);
    if (cfg.debugger?.kind === "llm") {
      unreported.push(`${prefix}card_types.${type}.debugger (llm)`);
      priced.push({ field: `${prefix}card_types.${type}.debugger.model`, model: cfg.debugger.model });
    }
    if (cfg.judge.kind !== "llm" || cfg.judge.allow_owner_model) continue;
    const owners = new Set([
      ...ownerNames(cfg.owner),
      ...backlog.cards.filter((c) => c.type === type && c.owner && c.status !== "DONE").map((c) => c.owner!),
    ]);
    for (const owner of owners) {
      const ownerModel = agentModel(squad.agents[owner]);
      for (const m of models) {
        if (ownerModel !== undefined && m.model === ownerModel) {
          issues.push({
            file: squadFile,
            field: m.field,
            message: `judge model "${m.model}" is the model of owner agent "${owner}": use a different model, or set allow_owner_model: true`,
          });
        }
      }
    }
  }
  if (squad.debugger?.kind === "llm") {
    unreported.push(`${prefix}debugger (llm)`);
    priced.push({ field: `${prefix}debugger.model`, model: squad.debugger.model });
  }
  if (pricing) {
    for (const { field, model } of priced) {
      if (!findPrice(model, pricing)) {
        issues.push({
          file: squadFile,
          field,
          message: `no price for model "${model}" in ${prefix}pricing (USD per million tokens)`,
        });
      }
    }
  }
  const budgeted =
    squad.budget?.per_card_usd !== undefined ||
    squad.budget?.per_backlog_usd !== undefined ||
    backlog.cards.some((c) => c.budget_usd !== undefined);
  if (budgeted && !pricing && unreported.length > 0) {
    issues.push({
      file: squadFile,
      field: `${prefix}pricing`,
      message: `required with a budget: ${unreported.join(", ")} report tokens but no USD, so budgets need prices`,
    });
  }
  return issues;
}

/** The `{ id, dependencies }` of every card of a file that failed the schema, as far as they are usable. */
function lenientCards(raw: unknown): GraphNode[] {
  const cards = (raw as { cards?: unknown })?.cards;
  if (!Array.isArray(cards)) return [];
  return cards.map((c: unknown, i) => {
    const card = (c ?? {}) as { id?: unknown; dependencies?: unknown };
    const deps = Array.isArray(card.dependencies)
      ? card.dependencies.filter((d): d is string => typeof d === "string")
      : [];
    return { id: typeof card.id === "string" ? card.id : `#${i + 1}`, dependencies: deps };
  });
}

/** Duplicate ids, self and unknown dependencies, and cycles (each named), with card and field. */
function graphIssues(file: string, cards: readonly GraphNode[]): BacklogIssue[] {
  const issues: BacklogIssue[] = [];
  const ids = new Set<string>();
  cards.forEach((card, i) => {
    if (ids.has(card.id))
      issues.push({ file, cardId: card.id, field: `cards[${i}].id`, message: `duplicate card id "${card.id}"` });
    ids.add(card.id);
  });
  cards.forEach((card, i) => {
    card.dependencies.forEach((dep, j) => {
      const field = `cards[${i}].dependencies[${j}]`;
      if (dep === card.id) issues.push({ file, cardId: card.id, field, message: "a card cannot depend on itself" });
      else if (!ids.has(dep)) issues.push({ file, cardId: card.id, field, message: `unknown dependency "${dep}"` });
    });
  });
  for (const cycle of findCycles(cards)) {
    const first = cycle[0]!;
    const index = cards.findIndex((c) => c.id === first);
    issues.push({
      file,
      cardId: first,
      field: `cards[${index}].dependencies`,
      message: `dependency cycle: ${cycle.join(" → ")}`,
    });
  }
  return issues;
}

/** The optional CardPlan fields, present only when configured (plans of squads without them stay as they were). */
function optionalPlanFields(
  budgetUsd: number | undefined,
  pricing: CardPlan["pricing"],
  debuggerConfig: CardPlan["debugger"],
): Pick<CardPlan, "budgetUsd" | "pricing" | "debugger"> {
  return {
    ...(budgetUsd !== undefined && { budgetUsd }),
    ...(pricing !== undefined && { pricing }),
    ...(debuggerConfig !== undefined && { debugger: debuggerConfig }),
  };
}

function resolvePlan(backlogId: string, backlog: BacklogFile, squad: SquadConfig, artifactBase?: string): BacklogPlan {
  const done: DependencyArtifacts[] = backlog.cards
    .filter((c) => c.status === "DONE" && c.type !== CORRECTION_TYPE)
    .map((c) => ({
      cardId: c.id,
      artifacts: c.artifacts.map((a) =>
        artifactBase ? `${artifactBase.replace(/\/+$/, "")}/${artifactPath(a)}` : artifactPath(a),
      ),
    }));
  const corrections = new Map<string, LegacyCorrection[]>();
  for (const c of backlog.cards) {
    if (c.type !== CORRECTION_TYPE || !c.parent_card) continue;
    const list = corrections.get(c.parent_card) ?? [];
    list.push({ cardId: c.id, status: c.status, attempt: c.attempt, validationHistory: c.validation_history });
    corrections.set(c.parent_card, list);
  }
  const pricing = squad.pricing && Object.keys(squad.pricing).length > 0 ? squad.pricing : undefined;
  const cards: CardPlan[] = backlog.cards
    .filter((c) => c.type !== CORRECTION_TYPE && c.status !== "DONE")
    .map((c) => {
      const typeConfig = squad.card_types[c.type]!;
      const route = c.owner !== undefined ? undefined : routeOwner(typeConfig.owner, backlogId, c.id);
      const agentName = c.owner ?? route!.chosen;
      const deliberation = councilOf(c, squad);
      return {
        backlogId,
        card: {
          id: c.id,
          type: c.type,
          title: c.title,
          description: c.description,
          priority: c.priority,
          dependencies: c.dependencies,
          acceptanceCriteria: c.acceptance_criteria,
          ...(c.max_turns !== undefined && { maxTurns: c.max_turns }),
        },
        agent: squad.agents[agentName]!,
        agentName,
        ...(route &&
          route.order.length > 1 && {
            ownerCandidates: route.order.map((name) => ({ name, agent: squad.agents[name]! })),
          }),
        typeConfig,
        ...(typeConfig.peer_review && {
          peerReviewers: typeConfig.peer_review.reviewers.map((name) => ({ name, agent: squad.agents[name]! })),
        }),
        costAlertUsd: squad.cost_alert_usd,
        priorAttempts: c.attempt,
        legacyCorrections: corrections.get(c.id) ?? [],
        resolvedDependencies: done.filter((d) => c.dependencies.includes(d.cardId)),
        ...optionalPlanFields(
          c.budget_usd ?? squad.budget?.per_card_usd,
          pricing,
          typeConfig.debugger ?? squad.debugger,
        ),
        ...(squad.budget?.per_backlog_usd !== undefined && { backlogBudgetUsd: squad.budget.per_backlog_usd }),
        ...(squad.notifications &&
          squad.notifications.webhooks.length > 0 && { webhooks: squad.notifications.webhooks }),
        ...(deliberation && { deliberation }),
      };
    });
  const budgetUsd = squad.budget?.per_backlog_usd;
  return { backlogId, cards, done, source: backlog, ...(budgetUsd !== undefined && { budgetUsd }) };
}
