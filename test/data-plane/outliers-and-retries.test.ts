import { describe, expect, it } from 'vitest';
import { OutlierDetector } from '../../src/data-plane/outlier-detector.js';
import { RetryBudget, backoffDelay } from '../../src/data-plane/retry-budget.js';

describe('outlier ejection', () => {
  const four = ['a', 'b', 'c', 'd'];

  it('ejects after consecutive failures, for longer on each repeat, and lets it back afterwards', () => {
    let now = 0;
    const detector = new OutlierDetector(
      { consecutiveFailures: 3, baseEjectionMs: 1_000 },
      { now: () => now },
    );
    const fail = (times: number) => {
      let ejected = false;
      for (let i = 0; i < times; i += 1) ejected = detector.record('a', false, four) || ejected;
      return ejected;
    };
    expect(fail(2)).toBe(false);
    expect(detector.record('a', true, four)).toBe(false); // a success resets the count
    expect(fail(2)).toBe(false);
    expect(fail(1)).toBe(true);
    expect(detector.isEjected('a')).toBe(true);
    now = 1_001;
    expect(detector.isEjected('a')).toBe(false);
    expect(fail(3)).toBe(true);
    now = 2_500;
    expect(detector.isEjected('a')).toBe(true); // the second ejection lasts 2 s
    now = 3_002;
    expect(detector.isEjected('a')).toBe(false);
  });

  it('never ejects more than the allowed share of instances', () => {
    const detector = new OutlierDetector({ consecutiveFailures: 1, maxEjectedShare: 0.5 }, { now: () => 0 });
    const ejected = four.map((id) => detector.record(id, false, four));
    expect(ejected).toEqual([true, true, false, false]);
    expect([...detector.ejected()].sort()).toEqual(['a', 'b']);
  });

  it('counts the share among the target’s own instances: other targets’ ejections neither use nor grow it', () => {
    const detector = new OutlierDetector({ consecutiveFailures: 1, maxEjectedShare: 0.5 }, { now: () => 0 });
    const big = ['big-1', 'big-2', 'big-3', 'big-4'];
    const small = ['small-1', 'small-2'];
    // Many instances elsewhere do not let a small target lose more than half of its own.
    expect(small.map((id) => detector.record(id, false, small))).toEqual([true, false]);
    // Ejections in the small target do not use up the big target's share.
    expect(big.map((id) => detector.record(id, false, big))).toEqual([true, true, false, false]);
    expect([...detector.ejected()].sort()).toEqual(['big-1', 'big-2', 'small-1']);
  });

  it('never ejects the only instance of a target', () => {
    const detector = new OutlierDetector({ consecutiveFailures: 1 }, { now: () => 0 });
    expect(detector.record('only', false, ['only'])).toBe(false);
    expect(detector.isEjected('only')).toBe(false);
  });
});

describe('retry budget', () => {
  it('allows a floor of retries, then a share of recent calls, and refills as the window slides', () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.1, minPerWindow: 2, windowMs: 1_000 }, { now: () => now });
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 30; i += 1) budget.recordCall();
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    now = 1_500; // the whole window has slid past
    expect(budget.tryRetry()).toBe(true);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, () => 1, 25, 1_000)).toBe(25);
    expect(backoffDelay(3, () => 1, 25, 1_000)).toBe(200);
    expect(backoffDelay(10, () => 1, 25, 1_000)).toBe(1_000);
    expect(backoffDelay(3, () => 0.5, 25, 1_000)).toBe(100);
  });
});
