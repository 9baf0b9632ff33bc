/**
 * What a card has heard of its dependencies: how each came to rest (DONE, or a status that blocks the
 * card), applied in message order so that a late `reopened` never undoes a newer `DONE`
 * (src/domain/dependency-order.ts). Workflow code, no Temporal calls: the card workflow's signal handlers
 * feed it, its lifecycle steps read it.
 */
import { isNewerMessage } from "../domain/dependency-order.js";
import type { CardReopened } from "../domain/backlog-state.js";
import type { DependencyArtifacts, MessageOrder, SettledStatus } from "../domain/index.js";
import type { CardSettled } from "./messages.js";

/** A card's dependencies as heard so far. */
export class CardDependencies {
  private readonly resolved = new Map<string, CardSettled>();
  /** The newest message applied about each dependency. */
  private readonly heard = new Map<string, MessageOrder>();

  /**
   * @param ids the card's dependencies (card ids), in the backlog file's order
   * @param doneAtStart dependencies already DONE when the card was planned (legacy cards), with their artifacts
   * @param onChange called after every change (the card's state shows `waitingFor` and `resolvedDependencies`)
   */
  constructor(
    private readonly ids: readonly string[],
    doneAtStart: readonly DependencyArtifacts[],
    private readonly onChange: () => void = () => undefined,
  ) {
    for (const dep of doneAtStart)
      this.resolved.set(dep.cardId, { cardId: dep.cardId, status: "DONE", artifacts: dep.artifacts });
  }

  /** Dependencies that have not come to rest yet (card ids). */
  unresolved(): string[] {
    return this.ids.filter((d) => !this.resolved.has(d));
  }

  /** How every dependency that came to rest did. */
  settled(): CardSettled[] {
    return [...this.resolved.values()];
  }

  /** Records how a dependency came to rest (repeats of the same status, and older messages, are ignored). */
  resolve(dep: CardSettled): void {
    if (!this.ids.includes(dep.cardId) || !this.hear(dep)) return;
    if (this.resolved.get(dep.cardId)?.status === dep.status) return;
    this.resolved.set(dep.cardId, dep);
    this.onChange();
  }

  /** A dependency was retried: wait for it again (unless a newer message about it was applied already). */
  reopen(reopened: CardReopened): void {
    if (!this.hear(reopened) || !this.resolved.delete(reopened.cardId)) return;
    this.onChange();
  }

  /** Takes over what a failed run of the card had heard (`CardState.resolvedDependencies`). */
  takeOver(settled: readonly CardSettled[]): void {
    for (const dep of settled) {
      this.resolved.set(dep.cardId, dep);
      this.hear(dep);
    }
    this.onChange();
  }

  /** The first dependency that came to rest other than DONE, if any. */
  blocking(): { cardId: string; status: SettledStatus } | undefined {
    for (const id of this.ids) {
      const dep = this.resolved.get(id);
      if (dep && dep.status !== "DONE") return { cardId: dep.cardId, status: dep.status };
    }
    return undefined;
  }

  /** Every dependency with its artifacts (paths relative to the workspaces root, or repository paths). */
  artifacts(): DependencyArtifacts[] {
    return this.ids.map((id) => ({ cardId: id, artifacts: this.resolved.get(id)?.artifacts ?? [] }));
  }

  /** True when a message about a dependency is newer than every one applied so far; remembers its order. */
  private hear(message: { cardId: string } & Partial<MessageOrder>): boolean {
    if (!isNewerMessage(this.heard.get(message.cardId), message)) return false;
    if (message.epoch !== undefined && message.seq !== undefined)
      this.heard.set(message.cardId, { epoch: message.epoch, seq: message.seq });
    return true;
  }
}
