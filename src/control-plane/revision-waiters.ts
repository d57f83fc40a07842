/**
 * Callers waiting for a replica to apply a store revision, so that a client that wrote through a replica reads its
 * own write from it next. Each wait is bounded: it resolves when the revision is reached, when its time is up, or
 * when the replica stops; it never rejects.
 */
export class RevisionWaiters {
  private readonly waiters = new Set<{ revision: number; resolve: () => void }>();

  /** Resolves once {@link reached} is told of `revision` or a later one, or after `timeoutMs`. */
  wait(revision: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve();
      }, timeoutMs);
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** The replica has applied `revision`: every wait for it or an earlier one resolves. */
  reached(revision: number): void {
    for (const waiter of this.waiters) {
      if (waiter.revision <= revision) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Resolves every wait now (the replica stops). */
  releaseAll(): void {
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
  }
}
