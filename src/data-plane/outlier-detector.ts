const NONE: ReadonlySet<string> = new Set();

/** Outlier ejection settings. */
export interface OutlierSettings {
  /** Consecutive failures that eject an instance (default 5). */
  consecutiveFailures: number;
  /** First ejection time; each further ejection of the same instance doubles it (default 10 s). */
  baseEjectionMs: number;
  /** Longest ejection (default 5 min). */
  maxEjectionMs: number;
  /** Never eject more than this share of a target's instances at once (default 0.5). */
  maxEjectedShare: number;
}

export const DEFAULT_OUTLIER_SETTINGS: OutlierSettings = {
  consecutiveFailures: 5,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
  maxEjectedShare: 0.5,
};

interface Entry {
  failures: number;
  ejections: number;
  ejectedUntil: number;
}

/**
 * Ejects instances that keep failing: after `consecutiveFailures` failures in a row an instance is not picked for
 * a while, longer each time it is ejected again; a success resets its count. At most a set share of a target's
 * instances is ejected at once, so a target-wide failure does not eject everything.
 */
export class OutlierDetector {
  private readonly settings: OutlierSettings;
  private readonly entries = new Map<string, Entry>();
  /** When the last current ejection ends: before then something may be ejected, after it nothing is. */
  private latestEjectionEnd = 0;

  constructor(
    settings: Partial<OutlierSettings> = {},
    private readonly clock: { now(): number } = { now: () => Date.now() },
  ) {
    this.settings = { ...DEFAULT_OUTLIER_SETTINGS, ...settings };
  }

  /**
   * Records a call's outcome for `id`, one of the instances `targetIds` of the target it was called as. The share
   * cap counts only ejections among those instances: other targets' failures never use up this target's share.
   * Returns true when it was ejected.
   */
  record(id: string, ok: boolean, targetIds: readonly string[]): boolean {
    const entry = this.entries.get(id) ?? { failures: 0, ejections: 0, ejectedUntil: 0 };
    this.entries.set(id, entry);
    if (ok) {
      entry.failures = 0;
      return false;
    }
    entry.failures += 1;
    const now = this.clock.now();
    if (entry.failures < this.settings.consecutiveFailures || entry.ejectedUntil > now) return false;
    const total = Math.max(targetIds.length, 1);
    if (this.ejectedCount(targetIds, now) + 1 > Math.floor(total * this.settings.maxEjectedShare))
      return false;
    entry.ejections += 1;
    entry.failures = 0;
    entry.ejectedUntil =
      now + Math.min(this.settings.maxEjectionMs, this.settings.baseEjectionMs * 2 ** (entry.ejections - 1));
    this.latestEjectionEnd = Math.max(this.latestEjectionEnd, entry.ejectedUntil);
    return true;
  }

  /** Whether `id` is ejected now. */
  isEjected(id: string): boolean {
    return (this.entries.get(id)?.ejectedUntil ?? 0) > this.clock.now();
  }

  /** Ids ejected now (empty and allocation-free in the common case where nothing was ever ejected). */
  ejected(): ReadonlySet<string> {
    if (this.latestEjectionEnd <= this.clock.now()) return NONE;
    const now = this.clock.now();
    return new Set([...this.entries].filter(([, entry]) => entry.ejectedUntil > now).map(([id]) => id));
  }

  /** Forgets instances that left. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.entries.keys()) if (!ids.has(id)) this.entries.delete(id);
  }

  /** How many of `ids` are ejected at `now`. */
  private ejectedCount(ids: readonly string[], now: number): number {
    let count = 0;
    for (const id of ids) if ((this.entries.get(id)?.ejectedUntil ?? 0) > now) count += 1;
    return count;
  }
}
