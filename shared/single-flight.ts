/**
 * Concurrent calls for the same key share one run of the work; the result or
 * the failure goes to every caller waiting, and nothing is kept afterwards,
 * so a failure is never cached.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }

  has(key: string): boolean {
    return this.running.has(key);
  }

  /** Resolves once every run started so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }
}
