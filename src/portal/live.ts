/**
 * One Temporal poll per watched thing, however many browsers watch it: every open board of a backlog (and
 * every open review panel) shares one read loop, which runs while someone watches and tells each watcher
 * when the value changed. A new watcher gets the last value at once.
 */

/** What a watcher hears: a new value, or why the last read failed. */
export type LiveUpdate<T> = { value: T; error?: undefined } | { value?: undefined; error: unknown };

interface Loop<T> {
  listeners: Set<(u: LiveUpdate<T>) => void>;
  last?: { key: string; update: LiveUpdate<T> };
  stop: AbortController;
}

/**
 * Shared polling of `read(key)`.
 * @param wait resolves when the next read is due (default: `intervalMs` later, or at once when aborted)
 */
export class SharedPoller<T> {
  private readonly loops = new Map<string, Loop<T>>();

  constructor(
    private readonly read: (key: string) => Promise<T>,
    private readonly wait: (signal: AbortSignal) => Promise<void>,
  ) {}

  /** A poller that reads every `intervalMs` ms. */
  static every<T>(intervalMs: number, read: (key: string) => Promise<T>): SharedPoller<T> {
    return new SharedPoller(
      read,
      (signal) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
        }),
    );
  }

  /** Number of read loops running (one per watched key). */
  get running(): number {
    return this.loops.size;
  }

  /** Watches `key`: `listener` hears the last value now (if any) and every change after. Returns the unsubscribe. */
  subscribe(key: string, listener: (u: LiveUpdate<T>) => void): () => void {
    let loop = this.loops.get(key);
    if (!loop) {
      loop = { listeners: new Set(), stop: new AbortController() };
      this.loops.set(key, loop);
      void this.run(key, loop);
    } else if (loop.last) listener(loop.last.update);
    loop.listeners.add(listener);
    const current = loop;
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size === 0) {
        current.stop.abort();
        if (this.loops.get(key) === current) this.loops.delete(key);
      }
    };
  }

  /** Stops every loop (the portal is closing). */
  close(): void {
    for (const loop of this.loops.values()) loop.stop.abort();
    this.loops.clear();
  }

  private async run(key: string, loop: Loop<T>): Promise<void> {
    while (!loop.stop.signal.aborted) {
      let update: LiveUpdate<T>;
      let fingerprint: string;
      try {
        const value = await this.read(key);
        update = { value };
        fingerprint = `v${JSON.stringify(value)}`;
      } catch (error) {
        update = { error };
        fingerprint = `e${(error as Error)?.message ?? String(error)}`;
      }
      if (loop.stop.signal.aborted) return;
      if (loop.last?.key !== fingerprint) {
        loop.last = { key: fingerprint, update };
        for (const l of loop.listeners) l(update);
      }
      await this.wait(loop.stop.signal);
    }
  }
}
