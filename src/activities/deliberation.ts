/**
 * The council activities (issue 12, src/domain/deliberation.ts) besides the proposals and revisions, which
 * are owner runs (`runOwner` with `OwnerInput.council`): a critique of another agent's proposal, and the
 * architect's choice. Both run the agent through the owner activity's code (any agent kind, its limits,
 * heartbeats, its record — a retry after the agent answered returns that answer) in a scratch workspace,
 * with a card whose description says what to read; the agent's answer is its `summary`.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { CardSpec, OwnerInput, OwnerResult, WorkspaceRoot } from "../domain/attempt.js";
import type { Cost } from "../domain/cost.js";
import type { CouncilMember } from "../domain/deliberation.js";
import type { AttemptGit, RepositoryTarget } from "../domain/repository.js";
import type { Pricing } from "../domain/squad.js";
import type { ActivityDeps } from "./context.js";
import { ActivityErrorType, agentFailure } from "./errors.js";
import { boundedAttemptDiff } from "./repository/diff.js";
import { asActivityFailure } from "./repository/errors.js";
import { repositoryDir } from "./repository/repo.js";
import { realWorkspace, workspaceRootDir } from "./workspace.js";

/** Characters of a critique kept (it travels in workflow history and the card's state). */
export const MAX_CRITIQUE_CHARS = 4_000;

/** Characters of a proposal shown to a critic (its diff, or its files without a repository). */
export const MAX_CRITIQUE_INPUT_CHARS = 60_000;

/** What every council agent run shares. */
interface CouncilRunBase {
  backlogId: string;
  card: CardSpec;
  attempt: number;
  /** Scratch workspace of the run (relative to the workspaces root), one per step and agent. */
  workspace: string;
  /** Remaining budget for the run, USD (see `OwnerInput.budgetUsd`). */
  budgetUsd?: number;
  pricing?: Pricing;
}

/** Input of `critiqueProposal`. */
export interface CritiqueInput extends CouncilRunBase {
  critic: CouncilMember;
  round: number;
  /** The proposal to critique: its agent, where it lies, and (with a repository) its commits. */
  target: { agent: string; workspace: string; workspaceRoot?: WorkspaceRoot; artifacts: string[]; git?: AttemptGit };
  repository?: RepositoryTarget;
}

/** A critique: the critic's text and what writing it cost. */
export interface CritiqueResult {
  text: string;
  cost: Cost;
}

/** Input of `askArchitect`. */
export interface ArchitectInput extends CouncilRunBase {
  architect: CouncilMember;
  /** The top-k proposals, best first. */
  candidates: { agent: string; score: number; rank: number; summary: string; branch?: string; checksPassed: boolean }[];
}

/** The architect's validated answer and what it cost. */
export interface ArchitectResult {
  winner: string;
  rationale: string;
  cost: Cost;
}

/** The architect's answer (its `summary`): JSON `{ winner, rationale }`. */
const ArchitectAnswerSchema = z.object({ winner: z.string().min(1), rationale: z.string().min(1).max(4000) });

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[cut: ${text.length - max} characters left out]\n`;
}

/**
 * Creates the council activities.
 *
 * `critiqueProposal(input)` reads the target proposal — its diff `base..head` with a repository, else its
 * files — and has `input.critic` write a critique of it (issue 12: "agent i critiques agent i+1's proposal
 * (its diff)"). `askArchitect(input)` shows `input.architect` the candidates and their scores and validates
 * its `{ winner, rationale }` answer: `winner` must be one of them.
 *
 * @param runOwner the owner activity's function (owner.ts `createRunOwner`), which runs the agent
 * @throws ApplicationFailure as `runOwner` does; `AgentOutputError` (non-retryable: asking the same agent
 *   again in the same workspace returns its recorded answer) for an empty critique or an architect answer
 *   that is not the JSON `{ winner, rationale }` naming a candidate, carrying its cost in `details[0].cost`;
 *   `RepositoryError` / `GitError` when the proposal's diff cannot be read.
 */
export function createDeliberationActivities(
  deps: ActivityDeps,
  runOwner: (input: OwnerInput) => Promise<OwnerResult>,
) {
  /** Runs `member`'s agent on `card` (a critique or a choice written as a card) in the run's scratch workspace. */
  function runAs(
    input: CouncilRunBase,
    member: CouncilMember,
    card: CardSpec,
    council: NonNullable<OwnerInput["council"]>,
  ): Promise<OwnerResult> {
    return runOwner({
      backlogId: input.backlogId,
      card,
      attempt: input.attempt,
      agent: member.agent,
      workspace: input.workspace,
      dependencies: [],
      ...(input.budgetUsd !== undefined && { budgetUsd: input.budgetUsd }),
      ...(input.pricing && { pricing: input.pricing }),
      council,
    });
  }

  async function proposalText(input: CritiqueInput): Promise<string> {
    const { target } = input;
    if (target.git && input.repository) {
      const repoDir = await repositoryDir(deps, input.repository, input.backlogId);
      const diff = await boundedAttemptDiff(repoDir, target.git, MAX_CRITIQUE_INPUT_CHARS).catch((err: unknown) => {
        throw asActivityFailure(err, `diff of ${target.agent}'s proposal for card ${input.card.id}`);
      });
      return diff.text;
    }
    const dir = await realWorkspace(workspaceRootDir(deps, target.workspaceRoot), target.workspace);
    const parts: string[] = [];
    for (const a of target.artifacts)
      parts.push(`--- ${a}\n${await readFile(join(dir, a), "utf8").catch((e: Error) => `(unreadable: ${e.message})`)}`);
    return cut(parts.join("\n"), MAX_CRITIQUE_INPUT_CHARS);
  }

  async function critiqueProposal(input: CritiqueInput): Promise<CritiqueResult> {
    const text = await proposalText(input);
    const card: CardSpec = {
      ...input.card,
      title: `Critique ${input.target.agent}'s proposal for ${input.card.id}: ${input.card.title}`,
      description:
        `Critique the proposal below for card ${input.card.id} ("${input.card.title}"). Name what is wrong or missing ` +
        `against the card and its acceptance criteria, and what to change; answer with the critique as your summary. ` +
        `Do not write files.\n\nThe card:\n${input.card.description}\n\nThe proposal of ${input.target.agent}:\n${text}`,
    };
    const result = await runAs(input, input.critic, card, {
      step: "critique",
      round: input.round,
      agent: input.critic.name,
      of: input.target.agent,
    });
    if (result.summary.trim() === "") {
      throw agentFailure(
        ActivityErrorType.AgentOutputError,
        `card ${input.card.id}: ${input.critic.name}'s critique of ${input.target.agent}'s proposal is empty`,
        {
          nonRetryable: true,
          cost: result.cost,
        },
      );
    }
    return { text: cut(result.summary.trim(), MAX_CRITIQUE_CHARS), cost: result.cost };
  }

  async function askArchitect(input: ArchitectInput): Promise<ArchitectResult> {
    const lines = input.candidates.map(
      (c) =>
        `- ${c.agent}: rank ${c.rank}, score ${c.score}/10, checks ${c.checksPassed ? "passed" : "failed"}${c.branch ? `, branch ${c.branch}` : ""}: ${c.summary}`,
    );
    const card: CardSpec = {
      ...input.card,
      title: `Choose the winning proposal for ${input.card.id}: ${input.card.title}`,
      description:
        `Choose the proposal that best delivers card ${input.card.id} ("${input.card.title}"). Answer, as your summary, ` +
        `exactly one JSON object {"winner": "<agent>", "rationale": "<why>"} where winner is one of: ` +
        `${input.candidates.map((c) => c.agent).join(", ")}.\n\nThe card:\n${input.card.description}\n\nThe candidates:\n${lines.join("\n")}`,
    };
    const result = await runAs(input, input.architect, card, { step: "choose", agent: input.architect.name });
    const bad = (why: string) =>
      agentFailure(
        ActivityErrorType.AgentOutputError,
        `card ${input.card.id}: architect ${input.architect.name}'s answer ${why}`,
        { nonRetryable: true, cost: result.cost },
      );
    let raw: unknown;
    try {
      raw = JSON.parse(result.summary);
    } catch {
      throw bad(`is not JSON {"winner", "rationale"}: ${JSON.stringify(result.summary.slice(0, 200))}`);
    }
    const parsed = ArchitectAnswerSchema.safeParse(raw);
    if (!parsed.success)
      throw bad(
        `is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      );
    if (!input.candidates.some((c) => c.agent === parsed.data.winner)) {
      throw bad(
        `names "${parsed.data.winner}", which is not a candidate (${input.candidates.map((c) => c.agent).join(", ")})`,
      );
    }
    return { ...parsed.data, cost: result.cost };
  }

  return { critiqueProposal, askArchitect };
}
