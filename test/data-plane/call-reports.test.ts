import { describe, expect, it } from 'vitest';
import { LATENCY_BINS } from '../../src/core/latency-bins.js';
import { CallReports } from '../../src/data-plane/call-reports.js';

const bins = (counts: Record<number, number>) =>
  Array.from({ length: LATENCY_BINS }, (_, bin) => counts[bin] ?? 0);

describe('an agent’s call reports', () => {
  it('counts each call in its latency bin, beside the sum and the maximum', () => {
    const reports = new CallReports();
    reports.record('echo-1', 'echo', 'echo', 0.5);
    reports.record('echo-1', 'echo', 'echo', 3);
    reports.record('echo-1', 'echo', 'echo', 700, 'UNAVAILABLE: down');
    reports.record('echo-1', 'echo', 'echo', 500_000);
    const [report] = reports.take();
    expect(report).toMatchObject({
      calls: 4,
      errors: 1,
      latencyMsMax: 500_000,
      lastError: 'UNAVAILABLE: down',
    });
    // ≤1 ms, ≤5 ms, ≤1 s, and beyond the last bound.
    expect(report!.latencyBuckets).toEqual(bins({ 0: 1, 2: 1, 9: 1, 16: 1 }));
    expect(reports.take()).toEqual([]);
  });

  it('puts the counts of a report that could not be sent back with the new ones', () => {
    const reports = new CallReports();
    reports.record('echo-1', 'echo', 'echo', 15);
    const unsent = reports.take();
    reports.record('echo-1', 'echo', 'echo', 15);
    reports.restore(unsent);
    const [report] = reports.take();
    expect(report).toMatchObject({ calls: 2, latencyMsSum: 30 });
    expect(report!.latencyBuckets).toEqual(bins({ 4: 2 }));
  });
});
