/**
 * At most `limit` request starts in any `periodMs` (a sliding window), so a client stays under a server's
 * per-key limit whatever window the server counts in, instead of waiting out a 429's full `Retry-After`.
 */
export class RateBudget {
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly limit: number,
    readonly periodMs: number,
  ) {}

  /** Resolves when one more request may start (callers are served in order). */
  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const t = Date.now();
        while (this.starts.length && (this.starts[0] as number) <= t - this.periodMs) this.starts.shift();
        if (this.starts.length < this.limit) {
          this.starts.push(t);
          return;
        }
        await new Promise((r) => setTimeout(r, (this.starts[0] as number) + this.periodMs - t));
      }
    });
    this.queue = turn;
    return turn;
  }
}
