import { describe, expect, it } from 'vitest';
import {
  ActivityLog,
  MAX_FAILURE_ENTRIES_PER_CALLER,
  activityFromCallReport,
  activityFromChange,
  type ActivityEntry,
} from '../../src/control-plane/activity.js';
import type { AgentRecord } from '../../src/core/agent-record.js';
import { MAX_REPORTS_PER_HEARTBEAT } from '../../src/control-plane/call-graph.js';
import type { StateChange } from '../../src/control-plane/state.js';

const record = (id: string, extra: Partial<AgentRecord> = {}): AgentRecord => ({
  id,
  spec: {
    type: 'summarizer',
    name: id,
    capabilities: [],
    labels: {},
    endpoint: '127.0.0.1:7501',
    weight: 100,
    maxConcurrency: 0,
    description: '',
    subscriptions: [],
    skills: [],
  },
  spiffeId: `spiffe://agentmesh.local/agent/${id}`,
  health: 'healthy',
  load: { inFlight: 0, queueDepth: 0 },
  registeredAt: 1_000,
  leaseExpiresAt: 16_000,
  leaseTtlMs: 15_000,
  revision: 1,
  ...extra,
});

const change = (type: 'put' | 'delete', reason: string, extra: Partial<AgentRecord> = {}): StateChange => ({
  kind: 'agent',
  revision: 2,
  type,
  record: record('summarizer-1', extra),
  reason,
});

describe('ActivityLog', () => {
  it('keeps the latest entries up to its capacity, newest first', () => {
    const clock = { time: 0, now: () => clock.time };
    const log = new ActivityLog({ capacity: 3, clock });
    for (let n = 1; n <= 5; n += 1) {
      clock.time = n * 1_000;
      log.add({ kind: 'joined', severity: 'info', message: `agent ${n} joined` });
    }
    expect(log.recent().map((entry) => entry.message)).toEqual([
      'agent 5 joined',
      'agent 4 joined',
      'agent 3 joined',
    ]);
    expect(log.recent(1)[0]).toMatchObject({ seq: 5, at: 5_000, count: 1 });
    expect(log.lastSeq).toBe(5);
  });

  it('merges events with the same key within the coalescing time into one entry, moved to the top', () => {
    const clock = { time: 0, now: () => clock.time };
    const log = new ActivityLog({ coalesceMs: 10_000, clock });
    log.add({ kind: 'call-failures', severity: 'error', message: 'a → b failed (1)', key: 'a-b' });
    clock.time = 1_000;
    log.add({ kind: 'joined', severity: 'info', message: 'c joined' });
    clock.time = 5_000;
    log.add({ kind: 'call-failures', severity: 'error', message: 'a → b failed (2)', key: 'a-b' });
    expect(log.recent()).toEqual([
      expect.objectContaining({ message: 'a → b failed (2)', count: 2, firstAt: 0, at: 5_000, seq: 3 }),
      expect.objectContaining({ message: 'c joined', count: 1 }),
    ]);
    expect(log.recent()[0]).not.toHaveProperty('key');
    clock.time = 16_000; // more than 10 s after the last merge: a new entry
    log.add({ kind: 'call-failures', severity: 'error', message: 'a → b failed (3)', key: 'a-b' });
    expect(log.recent().map((entry) => entry.count)).toEqual([1, 2, 1]);
  });

  it('keeps joins and health changes when one agent floods it with distinct call failures', () => {
    const clock = { time: 0, now: () => clock.time };
    const log = new ActivityLog({ clock }); // 200 entries
    log.add(activityFromChange(change('put', 'registered'))!);
    log.add(activityFromChange(change('put', 'health checks failing', { health: 'unhealthy' }))!);
    const rogue = { id: 'rogue-1', type: 'rogue' };
    // Ten heartbeats of 256 reports, each with an error text of its own.
    for (let heartbeat = 0; heartbeat < 10; heartbeat += 1) {
      clock.time += 5_000;
      for (let n = 0; n < MAX_REPORTS_PER_HEARTBEAT; n += 1) {
        log.add(
          activityFromCallReport(rogue, {
            calleeId: `victim-${n}`,
            calleeType: 'victim',
            method: 'm',
            calls: 1,
            errors: 1,
            latencyMsSum: 1,
            latencyMsMax: 1,
            lastError: `error ${heartbeat}-${n}`,
          })!,
        );
      }
    }
    const entries = log.recent();
    expect(entries.filter((entry) => entry.kind !== 'call-failures').map((entry) => entry.kind)).toEqual([
      'health',
      'joined',
    ]);
    // The caller's first failures stay as they were; the rest are one entry that counts them.
    const failures = entries.filter((entry) => entry.agentId === 'rogue-1');
    expect(failures).toHaveLength(MAX_FAILURE_ENTRIES_PER_CALLER + 1);
    expect(failures[0]).toMatchObject({
      count: 10 * MAX_REPORTS_PER_HEARTBEAT - MAX_FAILURE_ENTRIES_PER_CALLER,
      message: expect.stringMatching(
        /^rogue-1: more failing calls than shown separately; the latest: .*error 9-255/,
      ),
    });
    // Another caller's failures still show on their own, and so do the registry's events among the newest.
    log.add({
      kind: 'call-failures',
      severity: 'error',
      message: 'other failed',
      agentId: 'other-1',
      key: 'o',
    });
    log.add(activityFromChange(change('delete', 'deregistered'))!);
    expect(log.recent(2).map((entry) => entry.message)).toEqual([
      'summarizer-1 (summarizer) left: deregistered',
      'other failed',
    ]);
  });

  it('keeps call failures apart from the other events, each list up to the capacity', () => {
    const clock = { time: 0, now: () => clock.time };
    const log = new ActivityLog({ capacity: 2, clock });
    log.add({ kind: 'joined', severity: 'info', message: 'a joined' });
    for (let n = 1; n <= 3; n += 1) {
      log.add({ kind: 'call-failures', severity: 'error', message: `failure ${n}`, key: `f${n}` });
    }
    log.add({ kind: 'left', severity: 'info', message: 'a left' });
    expect(log.recent().map((entry) => entry.message)).toEqual([
      'a left',
      'failure 3',
      'failure 2',
      'a joined',
    ]);
  });

  it('tells subscribers about every entry until they unsubscribe', () => {
    const log = new ActivityLog();
    const seen: ActivityEntry[] = [];
    const stop = log.subscribe((entry) => seen.push(entry));
    log.add({ kind: 'joined', severity: 'info', message: 'one' });
    stop();
    log.add({ kind: 'joined', severity: 'info', message: 'two' });
    expect(seen.map((entry) => entry.message)).toEqual(['one']);
  });
});

describe('activity from registry changes and call reports', () => {
  it('describes what an operator cares about and leaves load reports out', () => {
    expect(activityFromChange(change('put', 'registered'))).toMatchObject({
      kind: 'joined',
      severity: 'info',
      message: 'summarizer-1 (summarizer) joined at 127.0.0.1:7501',
      agentId: 'summarizer-1',
      agentType: 'summarizer',
    });
    expect(activityFromChange(change('put', 'draining', { health: 'draining' }))).toMatchObject({
      kind: 'draining',
      severity: 'warning',
    });
    expect(activityFromChange(change('put', 'health checks failing', { health: 'unhealthy' }))).toMatchObject(
      {
        kind: 'health',
        severity: 'error',
        message: 'summarizer-1 (summarizer) is unhealthy: health checks failing',
      },
    );
    expect(activityFromChange(change('put', 'health checks passing'))).toMatchObject({
      kind: 'health',
      severity: 'info',
    });
    expect(activityFromChange(change('delete', 'lease expired'))).toMatchObject({
      kind: 'expired',
      severity: 'warning',
      message: 'summarizer-1 (summarizer) expired: no heartbeat within its 15 s lease',
    });
    expect(activityFromChange(change('delete', 'deregistered'))).toMatchObject({
      kind: 'left',
      message: 'summarizer-1 (summarizer) left: deregistered',
    });
    expect(activityFromChange(change('put', 'load reported'))).toBeUndefined();
    expect(
      activityFromChange({ kind: 'policies', revision: 3, policies: { defaultEffect: 'deny', rules: [] } }),
    ).toMatchObject({ kind: 'policies', message: 'policies replaced: 0 rules, default deny' });
  });

  it('turns a report with failures into a call-failure event keyed by edge, method and error', () => {
    const caller = { id: 'planner-1', type: 'planner' };
    const failing = {
      calleeId: 'summarizer-1',
      calleeType: 'summarizer',
      method: 'summarize',
      calls: 10,
      errors: 2,
      latencyMsSum: 50,
      latencyMsMax: 9,
      lastError: 'UNAVAILABLE: connection refused',
    };
    expect(activityFromCallReport(caller, failing)).toMatchObject({
      kind: 'call-failures',
      severity: 'error',
      message: 'planner-1 → summarizer-1 summarize: 2 of 10 calls failed (UNAVAILABLE: connection refused)',
      agentId: 'planner-1',
      key: 'calls\nplanner-1\nsummarizer-1\nsummarize\nUNAVAILABLE: connection refused',
    });
    expect(activityFromCallReport(caller, { ...failing, errors: 0 })).toBeUndefined();
  });
});
