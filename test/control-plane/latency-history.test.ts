import { describe, expect, it } from 'vitest';
import { CallGraph, type CallReport } from '../../src/control-plane/call-graph.js';
import {
  LATENCY_BINS,
  binOf,
  emptyHistogram,
  observe,
  observeReport,
  percentile,
  percentiles,
} from '../../src/control-plane/latency-histogram.js';
import { LoadHistory } from '../../src/control-plane/load-history.js';
import {
  HISTORY_EDGES_PER_MINUTE,
  HISTORY_MINUTES,
  OperationsView,
} from '../../src/control-plane/operations-view.js';
import { ControlPlaneState } from '../../src/control-plane/state.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import type { AgentRecord } from '../../src/core/agent-record.js';
import { silentLogger } from '../../src/observability/logger.js';

const report = (calleeId: string, extra: Partial<CallReport> = {}): CallReport => ({
  calleeId,
  calleeType: calleeId.replace(/-\d+$/, ''),
  method: 'summarize',
  calls: 1,
  errors: 0,
  latencyMsSum: 10,
  latencyMsMax: 10,
  lastError: '',
  ...extra,
});

const planner1 = { id: 'planner-1', type: 'planner' };
const MINUTE = 60_000;

describe('latency percentiles', () => {
  it('puts a latency in the first bin whose upper bound holds it, and the rest in the last bin', () => {
    expect(binOf(0)).toBe(0);
    expect(binOf(1)).toBe(0);
    expect(binOf(1.5)).toBe(1);
    expect(binOf(50)).toBe(5);
    expect(binOf(51)).toBe(6);
    expect(binOf(1e9)).toBe(LATENCY_BINS - 1);
  });

  it('reads p50, p95 and p99 of single calls, interpolated within their bin and never above the maximum', () => {
    const histogram = emptyHistogram();
    // 90 calls of 15 ms (bin 10-20), 9 of 150 ms (bin 100-200), 1 of 900 ms (bin 500-1000).
    observe(histogram, 15, 90);
    observe(histogram, 150, 9);
    observe(histogram, 900, 1);
    const p = percentiles(histogram, 900);
    expect(p.latencyMsP50).toBeGreaterThan(10);
    expect(p.latencyMsP50).toBeLessThanOrEqual(20);
    expect(p.latencyMsP95).toBeGreaterThan(100);
    expect(p.latencyMsP95).toBeLessThanOrEqual(200);
    expect(p.latencyMsP99).toBeGreaterThan(100);
    expect(p.latencyMsP99).toBeLessThanOrEqual(200);
    expect(percentile(histogram, 1, 900)).toBe(900); // the open top is closed by the maximum
    expect(percentile(histogram, 0.5, 12)).toBeLessThanOrEqual(12);
  });

  it('is 0 for no calls', () => {
    expect(percentiles(emptyHistogram(), 0)).toEqual({ latencyMsP50: 0, latencyMsP95: 0, latencyMsP99: 0 });
  });

  it('takes a report as one call at its maximum and the others at their mean, keeping both', () => {
    const histogram = emptyHistogram();
    // 10 calls, 1,000 ms in all, the slowest 910 ms: nine at 10 ms and one at 910 ms.
    observeReport(histogram, { calls: 10, latencyMsSum: 1_000, latencyMsMax: 910 });
    expect(histogram.reduce((a, b) => a + b, 0)).toBe(10);
    expect(histogram[binOf(10)]).toBe(9);
    expect(histogram[binOf(910)]).toBe(1);
    expect(percentile(histogram, 0.5, 910)).toBeLessThanOrEqual(10);
    expect(percentile(histogram, 0.99, 910)).toBeGreaterThan(500);
  });
});

describe('the call graph as a per-minute history', () => {
  const history = (start: number) => {
    const clock = { time: start, now: () => clock.time };
    const graph = new CallGraph({ clock, bucketMs: MINUTE, windowMs: 60 * MINUTE, maxEdgesPerBucket: 4 });
    return { clock, graph };
  };

  it('answers the edges of the last minutes asked for, with percentiles, and forgets what is older than the hour', () => {
    const { clock, graph } = history(1_800_000_000_000);
    graph.record(planner1, [report('summarizer-1', { calls: 1, latencyMsSum: 500, latencyMsMax: 500 })]);
    clock.time += 30 * MINUTE;
    for (let i = 0; i < 99; i += 1) graph.record(planner1, [report('summarizer-1')]);
    const recent = graph.agentEdges(5 * MINUTE)[0]!;
    expect(recent.calls).toBe(99);
    // Within the bin of 10 ms (5-10 ms), at its top: the slow call of half an hour ago is out of this range.
    expect(recent.latencyMsP99).toBeGreaterThan(9.9);
    expect(recent.latencyMsP99).toBeLessThanOrEqual(10);
    const hour = graph.agentEdges()[0]!;
    expect(hour.calls).toBe(100);
    expect(hour.latencyMsP50).toBeLessThanOrEqual(10);
    expect(hour.latencyMsMax).toBe(500);
    clock.time += 31 * MINUTE; // the first report is 61 min old
    expect(graph.agentEdges()[0]!.calls).toBe(99);
    clock.time += 31 * MINUTE;
    expect(graph.agentEdges()).toEqual([]);
  });

  it('gives an agent its calls out and in per minute, zeros included', () => {
    const { clock, graph } = history(1_800_000_000_000);
    graph.record(planner1, [report('summarizer-1', { calls: 4, errors: 1, latencyMsSum: 40 })]);
    clock.time += 2 * MINUTE;
    graph.record({ id: 'summarizer-1', type: 'summarizer' }, [report('llm-1', { calls: 2 })]);
    const points = graph.series('summarizer-1', 3 * MINUTE);
    expect(points).toHaveLength(3);
    expect(points.map((p) => [p.callsIn, p.errorsIn, p.callsOut])).toEqual([
      [4, 1, 0],
      [0, 0, 0],
      [0, 0, 2],
    ]);
    expect(graph.series('summarizer-1')).toHaveLength(60);
  });

  it('keeps at most its cap of edges per minute, however many agents report', () => {
    const { graph } = history(1_800_000_000_000);
    const outcome = graph.record(
      planner1,
      Array.from({ length: 10 }, (_, i) => report(`summarizer-${i}`)),
    );
    expect(outcome.accepted).toHaveLength(4);
    expect(outcome.rejected).toBe(6);
    expect(graph.agentEdges()).toHaveLength(4);
  });
});

describe('LoadHistory', () => {
  it('keeps per minute the most and the latest load an agent reported, at most an hour of minutes', () => {
    const clock = { time: 1_800_000_000_000, now: () => clock.time };
    const loads = new LoadHistory({ clock });
    loads.record('a', { inFlight: 3, queueDepth: 1 });
    loads.record('a', { inFlight: 7, queueDepth: 0 });
    loads.record('a', { inFlight: 2, queueDepth: 0 });
    expect(loads.points('a')).toEqual([
      { at: clock.time, maxInFlight: 7, maxQueueDepth: 1, inFlight: 2, queueDepth: 0 },
    ]);
    for (let minute = 1; minute <= 100; minute += 1) {
      clock.time += MINUTE;
      loads.record('a', { inFlight: minute, queueDepth: 0 });
    }
    const points = loads.points('a');
    expect(points).toHaveLength(60);
    expect(points.at(-1)!.inFlight).toBe(100);
    expect(loads.points('a', 5 * MINUTE)).toHaveLength(5);
  });

  it('tracks at most its cap of agents and forgets one that left', () => {
    const loads = new LoadHistory({ maxAgents: 2 });
    loads.record('a', { inFlight: 1, queueDepth: 0 });
    loads.record('b', { inFlight: 1, queueDepth: 0 });
    loads.record('c', { inFlight: 1, queueDepth: 0 });
    expect(loads.size).toBe(2);
    expect(loads.points('c')).toEqual([]);
    loads.forget('a');
    loads.record('c', { inFlight: 1, queueDepth: 0 });
    expect(loads.points('c')).toHaveLength(1);
  });
});

describe("the operations view's history", () => {
  it(`keeps at most ${HISTORY_EDGES_PER_MINUTE} edges a minute for ${HISTORY_MINUTES} minutes, whatever agents report`, async () => {
    const clock = { time: 1_800_000_000_000, now: () => clock.time };
    const state = new ControlPlaneState({ store: new MemoryStore(), logger: silentLogger(), clock });
    const view = new OperationsView({ state, logger: silentLogger(), clock });
    try {
      const record = (id: string) => ({ id, spec: { type: 'planner' } }) as AgentRecord;
      // Three heartbeats of 256 distinct callees each, in one minute: the live graph takes them all (its cap is
      // 4,096 a bucket), the history the first 512.
      for (let beat = 0; beat < 3; beat += 1) {
        view.callsReported(
          record(`planner-${beat}`),
          Array.from({ length: 256 }, (_, i) => report(`callee-${beat * 256 + i}`)),
        );
      }
      expect(view.callGraph.agentEdges()).toHaveLength(768);
      expect(view.callHistory.agentEdges()).toHaveLength(HISTORY_EDGES_PER_MINUTE);
      // Every minute of the hour as full: the history holds at most 60 minutes of 512.
      for (let minute = 1; minute <= HISTORY_MINUTES + 5; minute += 1) {
        clock.time += MINUTE;
        for (let beat = 0; beat < 3; beat += 1) {
          view.callsReported(
            record(`planner-${beat}`),
            Array.from({ length: 256 }, (_, i) => report(`callee-${minute}-${beat * 256 + i}`)),
          );
        }
      }
      const kept = view.callHistory.agentEdges();
      expect(kept).toHaveLength(HISTORY_EDGES_PER_MINUTE * HISTORY_MINUTES);
      expect(kept.some((edge) => edge.to === 'callee-5-0')).toBe(false); // older than the hour: gone
    } finally {
      view.stop();
      await state.stop();
    }
  });
});

describe("the operations view's activity", () => {
  it('warns of a reloaded state, not of the routine end of the settling period after a start', async () => {
    const state = new ControlPlaneState({ store: new MemoryStore(), logger: silentLogger() });
    const view = new OperationsView({ state, logger: silentLogger() });
    try {
      state.settleFor(60_000);
      state.settle();
      expect(view.recentActivity(50).filter((entry) => entry.severity === 'warning')).toEqual([]);
    } finally {
      view.stop();
      await state.stop();
    }
  });
});
