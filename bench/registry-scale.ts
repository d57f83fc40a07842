/**
 * The registry at scale: a control plane holding 100,000 registered agents (memory store; 20,000 on etcd), each
 * figure against its baseline in the same run.
 * - a new agent's start: `startAgent` resolves and its first call to an agent of the mesh succeeds (baseline: the
 *   same start while the registry is empty);
 * - one change reaching 1,000 scoped watchers (each follows one of 1,000 types, of 100 agents each at 100,000, and
 *   the changing agent's type): the time until the last of them has it, p50/p99 over rounds;
 * - a heartbeat's round trip that changes the agent's load while those 1,000 watchers hear of it (baseline: the same
 *   heartbeats before any watcher opened);
 * - the control plane's heap per registered agent;
 * - a watcher of the whole registry (a command-line tool) receiving its snapshot, in pieces.
 * The watchers run in a process of their own (bench/registry-watchers.ts), as agents do.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../src/agent/agent-runtime.js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { startControlPlane } from '../src/control-plane/control-plane.js';
import { Registrar } from '../src/control-plane/registrar.js';
import type { Store } from '../src/control-plane/store.js';
import type { AgentSpec } from '../src/core/agent-record.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { heapUsed, percentile } from './baseline.js';
import { moduleUrl } from '../test/helpers/module-url.js';

type Figures = Record<string, number>;

const TYPES = 1_000;
const WATCHERS = 1_000;
const WATCHER_IDENTITIES = 20;
const ROUNDS = 100;
const HEARTBEATS = 200;

function spec(i: number): AgentSpec {
  return {
    type: `type-${i % TYPES}`,
    name: `agent-${i}`,
    capabilities: [`cap-${i % 50}`],
    labels: { zone: `zone-${i % 5}` },
    endpoint: `127.0.0.1:${10_000 + (i % 50_000)}`,
    weight: 0,
    maxConcurrency: 8,
    description: '',
    subscriptions: [],
    skills: [],
  };
}

/** Runs the scenario with `agents` registered on a store that `makeStore` makes (called once). */
export async function benchRegistryScale(makeStore: () => Promise<Store>, agents: number): Promise<Figures> {
  const temp = await makeTempDir('agent-mesh-bench-');
  await ensureCaDir(temp.dir, 'bench.local');
  await ensureIdentity(temp.dir, 'control-plane');
  const identity = async (name: string, types: string[]) =>
    new MeshIdentity(await ensureIdentity(temp.dir, name, { types }));
  const store = await makeStore();
  const controlPlane = await startControlPlane({
    certsDir: temp.dir,
    listen: '127.0.0.1:0',
    store,
    logger: silentLogger(),
    healthChecks: false,
    // What is measured is the fan-out, not the limits that protect a control plane from one identity.
    watchesPerIdentity: WATCHERS,
    requestLimits: { heartbeat: { perSecond: 1e9, burst: 1e9 }, register: { perSecond: 1e9, burst: 1e9 } },
  });
  const registrar = new Registrar({
    store,
    state: controlPlane.state,
    logger: silentLogger(),
    leases: { maxTtlMs: 3_600_000 },
  });
  const closers: Array<() => unknown> = [];
  const running: Array<{ drain(graceMs?: number): Promise<void> }> = [];
  try {
    const target = await startAgent({
      identity: await identity('target-1', ['target']),
      controlPlane: controlPlane.address,
      type: 'target',
      methods: { ping: async () => ({ payload: Buffer.from('pong'), contentType: 'text/plain' }) },
    });
    running.push(target);

    /** A new agent joins and calls the target once: the time until both are done. */
    const join = async (name: string) => {
      const started = performance.now();
      const agent = await startAgent({
        identity: await identity(name, ['newcomer']),
        controlPlane: controlPlane.address,
        type: 'newcomer',
      });
      running.push(agent);
      await agent.mesh.call({ type: 'target' }, 'ping', '');
      return performance.now() - started;
    };
    // Identities are made before the clock starts: key generation is not the mesh's start.
    await identity('newcomer-empty', ['newcomer']);
    await identity('newcomer-full', ['newcomer']);
    const emptyStartMs = await join('newcomer-empty');

    const heapBefore = heapUsed();
    for (let batch = 0; batch < agents; batch += 256) {
      const jobs = [];
      for (let i = batch; i < Math.min(agents, batch + 256); i += 1) {
        const name = `agent-${i}`;
        jobs.push(
          registrar.register(
            { id: `spiffe://bench.local/agent/${name}`, name, agentTypes: [`type-${i % TYPES}`] },
            spec(i),
            3_600_000,
          ),
        );
      }
      await Promise.all(jobs);
    }
    await controlPlane.state.waitForRevision(controlPlane.state.revision);
    const heapPerAgentBytes = (heapUsed() - heapBefore) / agents;
    const fullStartMs = await join('newcomer-full');

    // The agent whose changes are measured: registered over gRPC as itself, so that it can send heartbeats.
    const hot = new ControlPlaneClient({
      address: controlPlane.address,
      identity: await identity('hot-1', ['hot']),
    });
    closers.push(() => hot.close());
    await hot.register({ type: 'hot', name: 'hot-1', endpoint: '127.0.0.1:9' }, 3_600_000);
    let load = 0;
    const heartbeats = async () => {
      const samples: number[] = [];
      for (let i = 0; i < HEARTBEATS; i += 1) {
        const started = performance.now();
        await hot.heartbeat('hot-1', { inFlight: (load += 1) % 7, queueDepth: 0 });
        samples.push(performance.now() - started);
      }
      return samples.sort((a, b) => a - b);
    };
    const quiet = await heartbeats();

    // 1,000 scoped watchers over 20 identities (each its own connection), in a process of their own.
    for (let i = 0; i < WATCHER_IDENTITIES; i += 1) await identity(`watcher-${i}`, ['watcher']);
    const watchers = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(moduleUrl('./registry-watchers.ts', import.meta.url)),
        ...[controlPlane.address, temp.dir, String(WATCHERS), String(WATCHER_IDENTITIES), String(TYPES)],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    closers.push(async () => {
      const exited = new Promise((resolve) => watchers.once('exit', resolve));
      if (watchers.exitCode === null && watchers.signalCode === null) watchers.kill('SIGTERM');
      await exited;
    });
    const lines = createInterface({ input: watchers.stdout! });
    const waiting = new Map<string, (words: string[]) => void>();
    lines.on('line', (line) => {
      const words = line.split(' ');
      const key = words[0] === 'round' ? `round ${words[1]}` : words[0]!;
      waiting.get(key)?.(words);
      waiting.delete(key);
    });
    const exited = new Promise<never>((_, reject) =>
      watchers.once('exit', (code) => reject(new Error(`the watchers' process exited (${code})`))),
    );
    exited.catch(() => undefined);
    const line = (key: string) =>
      Promise.race([new Promise<string[]>((resolve) => waiting.set(key, resolve)), exited]);
    await line('ready');

    const epochNow = () => performance.timeOrigin + performance.now();
    const spreads: number[] = [];
    // Round 0 warms the streams up and is not counted.
    for (let round = 0; round <= ROUNDS; round += 1) {
      const heard = line(`round ${round}`);
      const started = epochNow();
      await hot.register(
        { type: 'hot', name: 'hot-1', endpoint: '127.0.0.1:9', labels: { round: String(round) } },
        3_600_000,
      );
      const words = await heard;
      if (round > 0) spreads.push(Number(words[2]) - started);
    }
    spreads.sort((a, b) => a - b);
    const watched = await heartbeats();

    // A watcher of everything, as a command-line tool follows the registry.
    const wholeStarted = performance.now();
    const whole = await new Promise<number>((resolve, reject) => {
      const stream = hot.watch(
        0,
        (message) => {
          if (message.kind !== 'snapshot') return;
          stream.cancel();
          resolve(message.agents.length);
        },
        (error) => reject(error ?? new Error('the watch ended before its snapshot')),
      );
    });
    const wholeSnapshotMs = performance.now() - wholeStarted;

    return {
      agents,
      newAgentStartEmptyMs: emptyStartMs,
      newAgentStartMs: fullStartMs,
      changeTo1000WatchersP50Ms: percentile(spreads, 50),
      changeTo1000WatchersP99Ms: percentile(spreads, 99),
      heartbeatP50NoWatchersMs: percentile(quiet, 50),
      heartbeatP50With1000WatchersMs: percentile(watched, 50),
      heartbeatRatio: percentile(watched, 50) / percentile(quiet, 50),
      heapPerAgentBytes,
      wholeRegistryAgents: whole,
      wholeRegistrySnapshotMs: wholeSnapshotMs,
    };
  } finally {
    for (const close of closers.reverse()) await close();
    await Promise.all(running.map((agent) => agent.drain(0)));
    await controlPlane.close(0);
    await temp.remove();
  }
}
