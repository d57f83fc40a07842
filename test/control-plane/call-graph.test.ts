import { describe, expect, it } from 'vitest';
import {
  CallGraph,
  MAX_REPORTS_PER_HEARTBEAT,
  validateCallReport,
  type CallReport,
} from '../../src/control-plane/call-graph.js';

const report = (calleeId: string, extra: Partial<CallReport> = {}): CallReport => ({
  calleeId,
  calleeType: calleeId.replace(/-\d+$/, ''),
  method: 'summarize',
  calls: 10,
  errors: 0,
  latencyMsSum: 100,
  latencyMsMax: 30,
  lastError: '',
  ...extra,
});

/**
 * A graph with a 10 s window in 1 s buckets and a clock the test moves, at `start`. The graph started a window
 * earlier, so that rates are over the whole window (a younger graph divides by its age instead).
 */
function graphAt(start: number) {
  const clock = { time: start - 10_000, now: () => clock.time };
  const graph = new CallGraph({ windowMs: 10_000, bucketMs: 1_000, clock });
  clock.time = start;
  return { clock, graph };
}

const planner1 = { id: 'planner-1', type: 'planner' };
const planner2 = { id: 'planner-2', type: 'planner' };

describe('CallGraph', () => {
  it('divides by the time since the graph started while it is younger than the window', () => {
    const clock = { time: 1_800_000_000_000, now: () => clock.time };
    const graph = new CallGraph({ clock }); // the default 60 s window
    // One call a second for the graph's first 10 s: the rate is 1/s, not 10 calls over 60 s.
    for (let second = 1; second <= 10; second += 1) {
      clock.time += 1_000;
      graph.record(planner1, [report('summarizer-1', { calls: 1 })]);
    }
    expect(graph.agentEdges()[0]!.ratePerSecond).toBeCloseTo(1, 6);
    expect(graph.typeEdges()[0]!.ratePerSecond).toBeCloseTo(1, 6);
    // Once the graph is older than the window, the window is what counts.
    clock.time += 120_000;
    graph.record(planner1, [report('summarizer-1', { calls: 60 })]);
    clock.time += 1_000;
    expect(graph.agentEdges()[0]!.ratePerSecond).toBeLessThan(60 / 55);
    expect(graph.agentEdges()[0]!.ratePerSecond).toBeGreaterThan(60 / 60);
  });

  it('sums the reports of a caller→callee pair over the window: rate, error ratio, mean and max latency', () => {
    const { clock, graph } = graphAt(100_500);
    graph.record(planner1, [
      report('summarizer-1', { calls: 10, errors: 1, latencyMsSum: 100, latencyMsMax: 30 }),
    ]);
    clock.time += 2_000;
    graph.record(planner1, [
      report('summarizer-1', {
        method: 'translate',
        calls: 30,
        errors: 0,
        latencyMsSum: 900,
        latencyMsMax: 80,
      }),
    ]);
    const [edge, ...rest] = graph.agentEdges();
    expect(rest).toHaveLength(0);
    // The window covers the kept buckets: from the start of the oldest (93 s) to now (102.5 s).
    expect(edge!.ratePerSecond).toBeCloseTo(40 / 9.5, 6);
    expect(edge).toMatchObject({
      from: 'planner-1',
      fromType: 'planner',
      to: 'summarizer-1',
      toType: 'summarizer',
      methods: ['summarize', 'translate'],
      calls: 40,
      errors: 1,
      errorRatio: 1 / 40,
      latencyMsMean: 1_000 / 40,
      latencyMsMax: 80,
    });
  });

  it('forgets reports once they are older than the window', () => {
    const { clock, graph } = graphAt(100_000);
    graph.record(planner1, [report('summarizer-1', { calls: 5 })]);
    clock.time += 6_000;
    graph.record(planner1, [report('summarizer-1', { calls: 7 })]);
    expect(graph.agentEdges()[0]!.calls).toBe(12);
    clock.time += 5_000; // the first report is 11 s old now
    expect(graph.agentEdges()[0]!.calls).toBe(7);
    clock.time += 10_000;
    expect(graph.agentEdges()).toEqual([]);
    expect(graph.typeEdges()).toEqual([]);
  });

  it('adds up the agents of a type into type edges, busiest first', () => {
    const { graph } = graphAt(100_000);
    graph.record(planner1, [
      report('summarizer-1', { calls: 10, latencyMsSum: 100, latencyMsMax: 20 }),
      report('search-1', { calls: 1 }),
    ]);
    graph.record(planner2, [
      report('summarizer-2', { calls: 30, errors: 3, latencyMsSum: 900, latencyMsMax: 50 }),
    ]);
    const edges = graph.typeEdges();
    expect(edges.map((edge) => `${edge.from}→${edge.to}`)).toEqual(['planner→summarizer', 'planner→search']);
    expect(edges[0]).toMatchObject({
      fromType: 'planner',
      toType: 'summarizer',
      calls: 40,
      errors: 3,
      errorRatio: 3 / 40,
      latencyMsMean: 1_000 / 40,
      latencyMsMax: 50,
    });
    expect(graph.agentEdges()).toHaveLength(3);
  });

  it('keeps the latest failure of an edge and when it was reported', () => {
    const { clock, graph } = graphAt(100_000);
    graph.record(planner1, [
      report('summarizer-1', { errors: 1, lastError: 'UNAVAILABLE: connection refused' }),
    ]);
    clock.time += 1_500;
    graph.record(planner1, [report('summarizer-1', { errors: 2, lastError: 'DEADLINE_EXCEEDED: too slow' })]);
    clock.time += 1_000;
    graph.record(planner1, [report('summarizer-1', { errors: 0, lastError: '' })]);
    const [edge] = graph.agentEdges();
    expect(edge).toMatchObject({ errors: 3, lastError: 'DEADLINE_EXCEEDED: too slow', lastErrorAt: 101_500 });
    expect(graph.typeEdges()[0]).toMatchObject({
      lastError: 'DEADLINE_EXCEEDED: too slow',
      lastErrorAt: 101_500,
    });
  });

  it('ignores malformed reports, keeps the well-formed ones of the same heartbeat, and says why', () => {
    const { graph } = graphAt(100_000);
    const outcome = graph.record(planner1, [
      report('summarizer-1'),
      report('not an id!'),
      report('x'.repeat(64)),
      report('summarizer-1', { calleeType: '' }),
      report('summarizer-1', { method: '' }),
      report('summarizer-1', { method: 'a'.repeat(257) }),
      report('summarizer-1', { method: 'evil\nmethod' }),
      report('summarizer-1', { calls: 0 }),
      report('summarizer-1', { calls: -1 }),
      report('summarizer-1', { calls: 1.5 }),
      report('summarizer-1', { latencyMsSum: Number.NaN }),
      report('summarizer-1', { latencyMsMax: Number.POSITIVE_INFINITY }),
      report('summarizer-1', { latencyMsSum: -5 }),
      { ...report('summarizer-1'), calleeId: undefined } as unknown as CallReport,
    ]);
    expect(outcome.accepted).toHaveLength(1);
    expect(outcome.rejected).toBe(13);
    expect(outcome.problems).toHaveLength(5);
    expect(outcome.problems[0]).toMatch(/callee id "not an id!" is not an agent id/);
    expect(graph.agentEdges()).toHaveLength(1);
    expect(graph.agentEdges()[0]!.calls).toBe(10);
  });

  it('clips what cannot be true: errors above calls, a maximum above the sum, control characters, long errors', () => {
    const checked = validateCallReport(
      report('summarizer-1', {
        calls: 3,
        errors: 9,
        latencyMsSum: 30,
        latencyMsMax: 500,
        lastError: `UNAVAILABLE:\n${'x'.repeat(1_000)}`,
      }),
    );
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.value.errors).toBe(3);
    expect(checked.value.latencyMsMax).toBe(30);
    expect(checked.value.lastError).toMatch(/^UNAVAILABLE: x+$/);
    expect(checked.value.lastError.length).toBe(300);
  });

  it(`takes at most ${MAX_REPORTS_PER_HEARTBEAT} reports from one heartbeat`, () => {
    const { graph } = graphAt(100_000);
    const reports = Array.from({ length: 300 }, (_, n) => report(`summarizer-${n}`, { calls: 1 }));
    const outcome = graph.record(planner1, reports);
    expect(outcome.accepted).toHaveLength(MAX_REPORTS_PER_HEARTBEAT);
    expect(outcome.rejected).toBe(300 - MAX_REPORTS_PER_HEARTBEAT);
    expect(graph.agentEdges()).toHaveLength(MAX_REPORTS_PER_HEARTBEAT);
  });

  it('bounds the distinct edges it keeps per bucket, and still adds to the edges it has', () => {
    const clock = { now: () => 100_000 };
    const graph = new CallGraph({ maxEdgesPerBucket: 2, clock });
    const outcome = graph.record(planner1, [
      report('summarizer-1'),
      report('summarizer-2'),
      report('summarizer-3'),
      report('summarizer-1'),
    ]);
    expect(outcome.rejected).toBe(1);
    expect(outcome.problems[0]).toMatch(/more than 2 edges/);
    expect(graph.agentEdges().map((edge) => [edge.to, edge.calls])).toEqual([
      ['summarizer-1', 20],
      ['summarizer-2', 10],
    ]);
  });

  it('names the types of the latest report when an agent changes type', () => {
    const { clock, graph } = graphAt(100_000);
    graph.record(planner1, [report('summarizer-1')]);
    clock.time += 2_000;
    graph.record({ id: 'planner-1', type: 'orchestrator' }, [report('summarizer-1')]);
    expect(graph.agentEdges()[0]).toMatchObject({ fromType: 'orchestrator', calls: 20 });
    expect(graph.typeEdges().map((edge) => edge.from)).toEqual(['orchestrator']);
  });

  it("reads percentiles from the agents' bin counts, and estimates them when the counts are missing or do not add up", () => {
    const { graph } = graphAt(1_800_000_000_000);
    // 98 calls of at most 10 ms and 2 of 200-500 ms: the p99 is among the slow two.
    const latencyBuckets = [0, 0, 0, 98, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    const base = { calls: 100, latencyMsSum: 98 * 8 + 2 * 450, latencyMsMax: 450 };
    graph.record(planner1, [report('summarizer-1', { ...base, latencyBuckets })]);
    graph.record(planner1, [report('summarizer-2', base)]);
    graph.record(planner1, [
      report('summarizer-3', { ...base, latencyBuckets: [...latencyBuckets.slice(0, -1), 1] }),
    ]);
    const p99 = Object.fromEntries(graph.agentEdges().map((edge) => [edge.to, edge.latencyMsP99]));
    expect(p99['summarizer-1']).toBeGreaterThan(200);
    // The estimate puts 99 calls at the mean of the rest (~12.3 ms): a p99 far too low.
    expect(p99['summarizer-2']).toBeLessThan(200);
    expect(p99['summarizer-3']).toBe(p99['summarizer-2']);
    expect(validateCallReport(report('x-1', { calls: 1, latencyBuckets: [1, 2] }))).toMatchObject({
      ok: true,
      value: expect.not.objectContaining({ latencyBuckets: expect.anything() }),
    });
  });
});
