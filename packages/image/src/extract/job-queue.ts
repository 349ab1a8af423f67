/**
 * At most `limit` jobs in flight. `run` starts a job and resolves when there is room for the
 * next one (the caller's backpressure); `drain` waits for every job started. The first failure
 * is kept (`failure`) and later jobs still run to completion, so no descriptor is left open.
 * One counter and one waiter instead of Promise.race over the in-flight set: racing attaches a
 * handler to every pending job on every call, which costs O(limit) per job and piles handlers
 * onto long jobs (a large file).
 */
export class JobQueue {
  private active = 0;
  private wakeRoom: (() => void) | undefined;
  private wakeIdle: (() => void) | undefined;
  failure: unknown;

  constructor(private readonly limit: number) {}

  async run(work: () => Promise<void>): Promise<void> {
    this.active++;
    work()
      .catch((e: unknown) => {
        this.failure ??= e;
      })
      .finally(() => this.done());
    if (this.active >= this.limit) await new Promise<void>((resolve) => (this.wakeRoom = resolve));
  }

  /** Resolves when no job is in flight (never rejects: read `failure`). */
  async drain(): Promise<void> {
    if (this.active > 0) await new Promise<void>((resolve) => (this.wakeIdle = resolve));
  }

  private done(): void {
    this.active--;
    const room = this.wakeRoom;
    this.wakeRoom = undefined;
    room?.();
    if (this.active === 0) {
      const idle = this.wakeIdle;
      this.wakeIdle = undefined;
      idle?.();
    }
  }
}
