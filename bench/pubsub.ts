/**
 * Publish/subscribe: one publisher, 100 subscriber agents (in two child processes), 1 KB events.
 * - throughput: acknowledged deliveries per second, the publisher keeping up to 50,000 deliveries pending; every
 *   subscriber's count of distinct events handled is checked afterwards (lost = events a subscriber never handled);
 * - latency at 1,000 events/s to one subscriber: publish to handler (one way, measured in the subscriber's
 *   process with sub-millisecond wall-clock time), against the baseline of a direct grpc-js mTLS 1 KB unary call
 *   to an agent in the same subscriber process (round trip), started on alternate ticks.
 */
import { performance } from 'node:perf_hooks';
import { startAgent } from '../src/agent/agent-runtime.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import { directAgentClient, directEcho, percentile } from './baseline.js';
import { spawnBenchProcess, startBenchMesh } from './setup.js';

type Figures = Record<string, number>;
const SUBSCRIBERS = 100;
const PROCESSES = 2;
const EVENTS = 3_000;
const WINDOW = 50_000;
const RATE_PER_SECOND = 1_000;
const LATENCY_EVENTS = 3_000;

export async function benchPubSub(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  const names = Array.from({ length: SUBSCRIBERS }, (_, i) => `sink-${i}`);
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(names.slice(i, i + 8).map((name) => ensureIdentity(certsDir, name)));
  }
  const perProcess = SUBSCRIBERS / PROCESSES;
  const children = Array.from({ length: PROCESSES }, (_, p) =>
    spawnBenchProcess(
      new URL('./pubsub-subscribers.ts', import.meta.url),
      [certsDir, controlPlane.address, String(p * perProcess), String(perProcess)],
      /ready/,
    ),
  );
  const material = await ensureIdentity(certsDir, 'publisher');
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
    await Promise.all(children.map((child) => child.stop()));
    await bench.close();
  }
}
