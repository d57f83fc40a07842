/**
 * Publish/subscribe: one publisher, 100 subscriber agents (in two child processes), 1 KB events.
 * - throughput: acknowledged deliveries per second, the publisher keeping up to 50,000 deliveries pending; every
 *   subscriber's handled count is checked afterwards (lost = events a subscriber never handled);
 * - latency at 1,000 events/s to one subscriber: publish to handler (one way, measured in the subscriber's
 *   process with sub-millisecond wall-clock time), against the baseline of a direct grpc-js mTLS 1 KB unary call
 *   to an agent in the same subscriber process (round trip), started on alternate ticks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startAgent } from '../src/agent/agent-runtime.js';
import { startControlPlane } from '../src/control-plane/control-plane.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { directAgentClient, directEcho, percentile } from './baseline.js';

type Figures = Record<string, number>;
const SUBSCRIBERS = 100;
const PROCESSES = 2;
const EVENTS = 3_000;
const WINDOW = 50_000;
const RATE_PER_SECOND = 1_000;
const LATENCY_EVENTS = 3_000;

function startSubscribers(certsDir: string, controlPlane: string, first: number, count: number) {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(new URL('./pubsub-subscribers.ts', import.meta.url)),
      certsDir,
      controlPlane,
      String(first),
      String(count),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`subscriber process exited (${code})`)));
  });
  return { child, ready };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function benchPubSub(): Promise<Figures> {
  const temp = await makeTempDir('agent-mesh-bench-');
  await ensureCaDir(temp.dir, 'bench.local');
  await ensureIdentity(temp.dir, 'control-plane');
  const controlPlane = await startControlPlane({
    certsDir: temp.dir,
    listen: '127.0.0.1:0',
    store: new MemoryStore(),
    logger: silentLogger(),
  });
  const names = Array.from({ length: SUBSCRIBERS }, (_, i) => `sink-${i}`);
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(names.slice(i, i + 8).map((name) => ensureIdentity(temp.dir, name)));
  }
  const perProcess = SUBSCRIBERS / PROCESSES;
  const children = Array.from({ length: PROCESSES }, (_, p) =>
    startSubscribers(temp.dir, controlPlane.address, p * perProcess, perProcess),
  );
  const material = await ensureIdentity(temp.dir, 'publisher');
  const publisher = await startAgent({
    identity: new MeshIdentity(material),
    controlPlane: controlPlane.address,
    type: 'publisher',
    publisher: { maxPending: 2 * WINDOW },
  });
  let direct: AgentClient | undefined;
  try {
    await Promise.all(children.map((c) => c.ready));
    while (names.some((name) => !publisher.cache.get(name))) await new Promise((r) => setTimeout(r, 20));
    const payload = Buffer.alloc(1024, 7);

    // Warm up connections and code paths.
    for (let i = 0; i < 200; i += 1) publisher.publish('bench.warmup', payload);
    await publisher.publisher.flush(60_000);

    const before = publisher.publisher.stats.delivered;
    const started = performance.now();
    for (let i = 0; i < EVENTS; i += 1) {
      while (publisher.publisher.stats.pending > WINDOW) await new Promise((r) => setImmediate(r));
      publisher.publish('bench.event', payload);
    }
    const flushed = await publisher.publisher.flush(120_000);
    const seconds = (performance.now() - started) / 1000;
    const delivered = publisher.publisher.stats.delivered - before;

    // Every subscriber must have handled every event (warm-up included).
    let lost = flushed ? 0 : Number.NaN;
    for (const name of names) {
      const { payload: stats } = await publisher.mesh.call(
        { type: 'sink', labelSelector: `instance=${name}` },
        'stats',
        '',
      );
      lost += Math.max(0, 200 + EVENTS - (JSON.parse(stats.toString()) as { handled: number }).handled);
    }

    // Latency at a fixed rate: an event to sink-0 and a direct call to sink-0's process on alternate ticks.
    const sink = publisher.cache.get('sink-0')!;
    direct = directAgentClient(sink.spec.endpoint, material);
    const directCall = () => directEcho(direct!, payload);
    for (let i = 0; i < 500; i += 1) await directCall();
    const directLatencies: number[] = [];
    const calls: Promise<unknown>[] = [];
    const begin = performance.now();
    for (let i = 0; i < 2 * LATENCY_EVENTS; i += 1) {
      const due = begin + (i * 1000) / (2 * RATE_PER_SECOND);
      while (performance.now() < due) await new Promise((r) => setImmediate(r));
      if (i % 2 === 0) {
        const stamped = Buffer.alloc(1024, 7);
        stamped.writeDoubleLE(performance.timeOrigin + performance.now(), 0);
        publisher.publish('latency.event', stamped);
      } else {
        const t = performance.now();
        calls.push(directCall().then(() => directLatencies.push(performance.now() - t)));
      }
    }
    await Promise.all(calls);
    await publisher.publisher.flush(30_000);
    const { payload: latencyStats } = await publisher.mesh.call(
      { type: 'sink', labelSelector: 'instance=sink-0' },
      'stats',
      '',
    );
    const eventLatencies = (JSON.parse(latencyStats.toString()) as { latencies: number[] }).latencies.sort(
      (a, b) => a - b,
    );
    directLatencies.sort((a, b) => a - b);
    return {
      deliveriesPerSecond: Math.round(delivered / seconds),
      subscribers: SUBSCRIBERS,
      lostEvents: lost,
      deadLettered: publisher.publisher.stats.deadLettered,
      publishToHandlerP50Ms: percentile(eventLatencies, 50),
      publishToHandlerP99Ms: percentile(eventLatencies, 99),
      directCallP50Ms: percentile(directLatencies, 50),
      directCallP99Ms: percentile(directLatencies, 99),
    };
  } finally {
    direct?.close();
    await publisher.drain(0);
    await Promise.all(children.map((c) => stop(c.child)));
    await controlPlane.close(0);
    await temp.remove();
  }
}
