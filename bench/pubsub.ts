/**
 * Publish/subscribe: one publisher, 100 subscriber agents (in two child processes), 1 KB events.
 * - throughput: acknowledged deliveries per second, the publisher keeping up to 50,000 deliveries pending; every
 *   subscriber's count of distinct events handled is checked afterwards (lost = events a subscriber never handled);
 * - the same load through a broker, right after, as the baseline (bench/pubsub-nats.ts): NATS JetStream with a durable
 *   consumer per subscriber and explicit acks (file and memory storage), and core NATS as the ceiling. Needs
 *   `nats-server` on PATH (Debian: `apt-get install nats-server`); without it the NATS figures are left out with a
 *   printed reason. `against*` figures are agent-mesh's rate over each baseline's;
 * - latency at 1,000 events/s to one subscriber: publish to handler (one way, measured in the subscriber's
 *   process with sub-millisecond wall-clock time), against the baseline of a direct grpc-js mTLS 1 KB unary call
 *   to an agent in the same subscriber process (round trip), started on alternate ticks; in 20 rounds of one
 *   second: the medians over the rounds of each path's p50 and p99 (one pause of either process moves a round's
 *   p99 by milliseconds on a small machine), how many rounds kept the event p99 within 2 ms, and the p99 of all
 *   samples of each path.
 */
import { performance } from 'node:perf_hooks';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import { directAgentClient, directEcho, median, percentile } from './baseline.js';
import { benchNats } from './pubsub-nats.js';
import { spawnBenchProcess, startBenchMesh } from './setup.js';
import { moduleUrl } from '../test/helpers/module-url.js';

type Figures = Record<string, number>;
const SUBSCRIBERS = 100;
const PROCESSES = 2;
const EVENTS = 3_000;
const WINDOW = 50_000;
const RATE_PER_SECOND = 1_000;
const LATENCY_ROUNDS = 20;
const LATENCY_SINK = `sink-${SUBSCRIBERS}`;
const WARMUP = 200;

/** What to leave out of {@link benchPubSub} when another scenario reports its brokerless figures beside its own. */
export interface PubSubBenchOptions {
  /** Whether to run the NATS baselines (bench/pubsub-nats.ts) as well (default true). */
  brokers?: boolean;
}

export async function benchPubSub(options: PubSubBenchOptions = {}): Promise<Figures> {
  const { brokers = true } = options;
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  const names = Array.from({ length: SUBSCRIBERS }, (_, i) => `sink-${i}`);
  const everyone = [...names, LATENCY_SINK];
  for (let i = 0; i < everyone.length; i += 8) {
    await Promise.all(
      everyone.slice(i, i + 8).map((name) => ensureIdentity(certsDir, name, { types: ['sink'] })),
    );
  }
  const perProcess = SUBSCRIBERS / PROCESSES;
  const spawnSinks = (first: number, count: number, pattern: string) =>
    spawnBenchProcess(
      moduleUrl('./pubsub-subscribers.ts', import.meta.url),
      [certsDir, controlPlane.address, String(first), String(count), pattern],
      /ready/,
    );
  const children = [
    ...Array.from({ length: PROCESSES }, (_, p) => spawnSinks(p * perProcess, perProcess, 'bench.>')),
    // The latency subscriber has a process of its own, as an agent in a deployment would, not sharing its heap
    // and event loop with 49 other agents.
    spawnSinks(SUBSCRIBERS, 1, 'latency.>'),
  ];
  const material = await ensureIdentity(certsDir, 'publisher', { types: ['publisher'] });
  const publisher = await startAgent({
    identity: new MeshIdentity(material),
    controlPlane: controlPlane.address,
    type: 'publisher',
    publisher: { maxPending: 2 * WINDOW },
  });
  let direct: AgentClient | undefined;
  try {
    await Promise.all(children.map((c) => c.ready));
    while (everyone.some((name) => !publisher.cache.get(name))) await new Promise((r) => setTimeout(r, 20));
    const payload = Buffer.alloc(1024, 7);

    // Warm up connections and code paths.
    for (let i = 0; i < WARMUP; i += 1) publisher.publisher.publish('bench.warmup', payload);
    await publisher.publisher.flush(60_000);

    const before = publisher.publisher.stats.delivered;
    const sinks = children.slice(0, PROCESSES);
    const sinksCpuBefore = await Promise.all(sinks.map((sink) => sink.cpu()));
    const publisherCpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < EVENTS; i += 1) {
      // The window is checked every tenth publish (1,000 deliveries): the stats are read on the publisher's thread,
      // which bounds this scenario's rate, and polling them on every publish cost it 2%.
      if (i % 10 === 0) {
        while (publisher.publisher.stats.pending > WINDOW) await new Promise((r) => setImmediate(r));
      }
      publisher.publisher.publish('bench.event', payload);
    }
    const flushed = await publisher.publisher.flush(120_000);
    const seconds = (performance.now() - started) / 1000;
    const delivered = publisher.publisher.stats.delivered - before;
    const publisherCpu = process.cpuUsage(publisherCpuBefore);
    const sinksCpu = (await Promise.all(sinks.map((sink) => sink.cpu()))).reduce(
      (sum, us, i) => sum + us - sinksCpuBefore[i]!,
      0,
    );

    // Every subscriber must have handled every event (warm-up included).
    let lost = flushed ? 0 : Number.NaN;
    for (const name of names) {
      const { payload: stats } = await publisher.mesh.call(
        { type: 'sink', labelSelector: `instance=${name}` },
        'stats',
        '',
      );
      lost += Math.max(0, WARMUP + EVENTS - (JSON.parse(stats.toString()) as { handled: number }).handled);
    }

    // The same load through a broker, right after: NATS JetStream (durable consumers, explicit acks) and core NATS.
    const nats = brokers
      ? await benchNats({
          subscribers: SUBSCRIBERS,
          processes: PROCESSES,
          warmupEvents: WARMUP,
          events: EVENTS,
          window: WINDOW / SUBSCRIBERS,
          payload,
        })
      : {};

    // Latency at a fixed rate: an event to the latency sink and a direct call to it on alternate ticks.
    const sink = publisher.cache.get(LATENCY_SINK)!;
    direct = directAgentClient(sink.spec.endpoint, material);
    const directCall = () => directEcho(direct!, payload);
    for (let i = 0; i < 500; i += 1) await directCall();
    const rounds: { event: number[]; direct: number[] }[] = [];
    for (let round = 0; round < LATENCY_ROUNDS; round += 1) {
      rounds.push(await latencyRound(publisher, directCall));
    }
    const all = (path: 'event' | 'direct') => rounds.flatMap((r) => r[path]).sort((a, b) => a - b);
    const perRound = (path: 'event' | 'direct', p: number) =>
      median(rounds.map((r) => percentile(r[path], p)));
    const eventP99s = rounds.map((r) => percentile(r.event, 99));
    const deliveriesPerSecond = Math.round(delivered / seconds);
    const against = (baseline: number | undefined) =>
      baseline ? Math.round((deliveriesPerSecond / baseline) * 100) / 100 : Number.NaN;
    return {
      deliveriesPerSecond,
      ...nats,
      ...(nats.natsJetStreamFileDeliveriesPerSecond
        ? {
            againstJetStreamFile: against(nats.natsJetStreamFileDeliveriesPerSecond),
            againstJetStreamMemory: against(nats.natsJetStreamMemoryDeliveriesPerSecond),
            againstNatsCore: against(nats.natsCoreDeliveriesPerSecond),
          }
        : {}),
      // CPU µs per delivery: the publisher's process (which also hosts the idle control plane) and the two
      // subscriber processes together; with their sum against the machine's two cores, they tell which side bounds
      // the rate.
      publisherCpuUsPerDelivery: (publisherCpu.user + publisherCpu.system) / delivered,
      subscribersCpuUsPerDelivery: sinksCpu / delivered,
      subscribers: SUBSCRIBERS,
      lostEvents: lost,
      deadLettered: publisher.publisher.stats.deadLettered,
      publishToHandlerP50Ms: perRound('event', 50),
      publishToHandlerP99Ms: perRound('event', 99),
      directCallP50Ms: perRound('direct', 50),
      directCallP99Ms: perRound('direct', 99),
      roundsWithEventP99Within2Ms: eventP99s.filter((p99) => p99 <= 2).length,
      rounds: LATENCY_ROUNDS,
      publishToHandlerP99AllMs: percentile(all('event'), 99),
      directCallP99AllMs: percentile(all('direct'), 99),
    };
  } finally {
    direct?.close();
    await publisher.drain(0);
    await Promise.all(children.map((child) => child.stop()));
    await bench.close();
  }
}

/**
 * One second at 1,000 events/s to the latency sink, with a direct call to it on the alternate ticks (a pause
 * of either process hits both paths alike). Returns each path's latencies, sorted.
 */
async function latencyRound(
  publisher: RunningAgent,
  directCall: () => Promise<void>,
): Promise<{ event: number[]; direct: number[] }> {
  const direct: number[] = [];
  const calls: Promise<unknown>[] = [];
  const begin = performance.now();
  for (let i = 0; i < 2 * RATE_PER_SECOND; i += 1) {
    const due = begin + (i * 1000) / (2 * RATE_PER_SECOND);
    while (performance.now() < due) await new Promise((r) => setImmediate(r));
    if (i % 2 === 0) {
      const stamped = Buffer.alloc(1024, 7);
      stamped.writeDoubleLE(performance.timeOrigin + performance.now(), 0);
      publisher.publisher.publish('latency.event', stamped);
    } else {
      const t = performance.now();
      calls.push(directCall().then(() => direct.push(performance.now() - t)));
    }
  }
  await Promise.all(calls);
  await publisher.publisher.flush(30_000);
  // Every event of the round is acknowledged, so the sink has recorded (and now clears) exactly this round's.
  const { payload } = await publisher.mesh.call(
    { type: 'sink', labelSelector: `instance=${LATENCY_SINK}` },
    'stats',
    '',
  );
  const event = (JSON.parse(payload.toString()) as { latencies: number[] }).latencies;
  return { event: event.sort((a, b) => a - b), direct: direct.sort((a, b) => a - b) };
}
