import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SPEC_BYTES, type Skill } from '../../src/core/agent-record.js';
import type { ControlPlaneClient, WatchMessage } from '../../src/control-plane/client.js';
import { ControlPlaneState } from '../../src/control-plane/state.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { heavySkill, largestSkills } from '../helpers/specs.js';
import { until } from '../helpers/until.js';

const spec = (name: string, skills: Skill[]) => ({
  type: 'flooder',
  name,
  endpoint: '127.0.0.1:9',
  skills,
});

/**
 * One agent must not be able to grow the control plane's memory, or what its watchers receive, without bound: a
 * registration has a size limit, load reports travel as small messages of their own, Register and Heartbeat are
 * rate limited per identity, and the change histories are bounded in bytes.
 */
describe('the control plane under a client that floods it', () => {
  let mesh: TestMesh;
  let flooder: ControlPlaneClient;
  let watcher: ControlPlaneClient;
  const messages = collector<WatchMessage>();
  let watch: { cancel(): void };

  beforeAll(async () => {
    mesh = await startTestMesh();
    flooder = await mesh.client('flooder');
    watcher = await mesh.client('watcher');
    watch = watcher.watch(0, (message) => messages.push(message));
    await messages.next((m) => m.kind === 'snapshot');
  });

  afterAll(async () => {
    watch?.cancel();
    await mesh?.close();
  });

  it('refuses a registration larger than the spec limit, naming the limit', async () => {
    // 64 skills of maximum size were accepted before: about 2.6 MiB in every watcher's memory.
    const skills = Array.from({ length: 64 }, (_, i) => heavySkill(`skill-${i}`, 32 * 1024));
    const error = await flooder.register(spec('flooder', skills)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe(Code.INVALID_ARGUMENT);
    expect((error as MeshError).message).toMatch(new RegExp(`over the limit of ${MAX_SPEC_BYTES}`));
  });

  it('sends load reports as small messages, rate limits a heartbeat flood, and keeps its histories small', async () => {
    // The largest spec the limit accepts.
    const skills = largestSkills();
    const { record } = await flooder.register(spec('flooder', skills), 60_000);
    await messages.next((m) => m.kind === 'agent' && m.record.id === 'flooder');
    const start = messages.items.length;

    let accepted = 0;
    let changed = 0; // accepted heartbeats whose load differed from the last accepted one
    let last = 0;
    const refusals: MeshError[] = [];
    for (let i = 0; i < 500; i += 1) {
      const inFlight = i % 2;
      await flooder.heartbeat('flooder', { inFlight, queueDepth: 0 }).then(
        () => {
          accepted += 1;
          if (inFlight !== last) changed += 1;
          last = inFlight;
        },
        (error: unknown) => refusals.push(MeshError.from(error)),
      );
    }
    expect(accepted).toBeGreaterThan(0);
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) {
      expect(refusal.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(refusal.retryAfterMs).toBeGreaterThan(0);
      expect(refusal.message).toMatch(/over its heartbeat rate/);
    }
    // The accepted heartbeats that changed the load sent the watcher load messages, no record: at most one per
    // heartbeat (loads that come faster than a watcher needs them are coalesced), the last with the latest load.
    expect(changed).toBeGreaterThan(0);
    const loads = () => messages.items.slice(start).filter((m) => m.kind === 'load');
    await until(() => {
      const latest = loads().at(-1);
      return latest?.kind === 'load' && latest.load.inFlight === last;
    }, 'the latest load arrived');
    expect(messages.items.slice(start).filter((m) => m.kind === 'agent')).toEqual([]);
    expect(loads().length).toBeLessThanOrEqual(changed);
    for (const load of loads()) expect(JSON.stringify(load).length).toBeLessThan(200);
    expect(JSON.stringify(record.spec).length).toBeGreaterThan(100 * 1024);
    // The record and its spec were stored once; each load report costs the histories a few hundred bytes.
    expect(mesh.controlPlane.state.historyStats.bytes).toBeLessThan(512 * 1024);

    // Other identities are not held back by the flooder's limit.
    const other = await mesh.client('bystander', ['worker']);
    await other.register({ type: 'worker', name: 'bystander', endpoint: '127.0.0.1:9' });
    expect(await other.heartbeat('bystander', { inFlight: 1, queueDepth: 0 })).toBeGreaterThan(Date.now());
  });
});

describe('watch streams', () => {
  it('are limited per identity, so that one cannot hold memory in streams it never reads', async () => {
    const mesh = await startTestMesh({ watchesPerIdentity: 3 });
    try {
      const client = await mesh.client('hoarder');
      const handles: Array<{ cancel(): void }> = [];
      const opened: Promise<void>[] = [];
      for (let i = 0; i < 3; i += 1) {
        opened.push(
          new Promise((resolve) => handles.push(client.watch(0, (m) => m.kind === 'snapshot' && resolve()))),
        );
      }
      await Promise.all(opened);
      const refused = await new Promise<Error | undefined>((resolve) =>
        handles.push(client.watch(0, () => undefined, resolve)),
      );
      expect(MeshError.from(refused).code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(refused!.message).toMatch(/has 3 watch streams open, the most one identity may/);
      // Another identity is not affected, and a closed stream makes room again.
      const other = await mesh.client('other');
      await new Promise<void>((resolve) =>
        handles.push(other.watch(0, (m) => m.kind === 'snapshot' && resolve())),
      );
      handles[0]!.cancel();
      await until(
        () =>
          new Promise<boolean>((resolve) => {
            const handle = client.watch(
              0,
              (m) => m.kind === 'snapshot' && resolve(true),
              () => resolve(false),
            );
            handles.push(handle);
          }),
        'a watch stream is accepted again',
      );
      for (const handle of handles) handle.cancel();
    } finally {
      await mesh.close();
    }
  });
});

describe('change histories', () => {
  it('keep the store within its bound in bytes, however large the values', async () => {
    const store = new MemoryStore({ historyBytes: 4 * 1024 * 1024 });
    const first = store.currentRevision;
    const big = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 200; i += 1) await store.put(`agentmesh/agents/a${i % 3}`, big);
    expect(store.historyStats.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(store.historyStats.events).toBeGreaterThan(0);
    // A watch from before the kept history cannot resume: it has to list again.
    await expect(
      store.watch('agentmesh/', first, { onEvents: () => undefined, onError: () => undefined }),
    ).rejects.toThrow(/compacted/);
    await store.close();
  });

  it("keep a replica's state within its bound in bytes; a watcher from before it gets a snapshot", async () => {
    const store = new MemoryStore();
    const state = new ControlPlaneState({ store, logger: silentLogger(), historyBytes: 2 * 1024 * 1024 });
    await state.start();
    const first = state.revision;
    const value = (i: number) =>
      JSON.stringify({
        spec: {
          type: 'big',
          name: `a${i}`,
          endpoint: '127.0.0.1:9',
          capabilities: [],
          labels: {},
          weight: 100,
          maxConcurrency: 0,
          description: 'x'.repeat(100 * 1024),
          subscriptions: [],
          skills: [],
        },
        spiffeId: `spiffe://agentmesh.local/agent/a${i}`,
        health: 'healthy',
        load: { inFlight: 0, queueDepth: 0 },
        registeredAt: i,
        leaseTtlMs: 15_000,
      });
    for (let i = 0; i < 100; i += 1) await store.put(`agentmesh/agents/a${i % 5}`, value(i));
    await until(() => state.revision === store.currentRevision, 'the state caught up');
    expect(state.historyStats.bytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(state.changesSince(first)).toBeUndefined();
    expect(state.changesSince(state.revision)).toEqual([]);
    await state.stop();
    await store.close();
  });
});
