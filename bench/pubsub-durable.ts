/**
 * Durable pub/sub: the mesh's events on NATS JetStream against a plain JetStream client on the same server, with
 * today's brokerless figures beside them. One publisher, 100 subscribers (two child processes of 50, as in
 * bench/pubsub.ts), 1 KB events, each subscriber with a durable consumer of its own (no group).
 * - The server: one NATS node (test/helpers/nats.ts `startNatsCluster` of size 1, for a certificate directory made by
 *   `makeCertsDir`), configured as `agent-mesh ca nats` configures one: operator-mode JWTs and TLS from the mesh CA,
 *   file storage. The control plane runs in this process with `events: { servers }`.
 * - mesh: the publisher agent awaits each publish's PubAck (`publish()` in the durable mode), keeping `WINDOW`
 *   publishes in flight; 100 agents (bench/pubsub-durable-subscribers.ts) subscribe to `bench.>` and their runtime
 *   reads their consumers and acknowledges each handled event.
 * - plain: the baseline, a plain JetStream client (`@nats-io/jetstream`) on the same server, so that both pay for TLS
 *   and the operator-mode auth: users signed with the mesh's NATS authority with every permission, connected with
 *   `connectToEventStore` and the control plane's certificate; a stream of its own (`BENCH` on `bench.>`) and 100
 *   durable pull consumers with the mesh's consumer settings (explicit acks, 1,000 acks pending at most, 30 s ack
 *   wait), consumed from two child processes of 50 connections; the same payload, window and event count. What
 *   the mesh does besides is part of what is measured: its events are encoded with their metadata (1 KB of payload
 *   is ~1.2 KB stored), carry the event id as `Nats-Msg-Id` (JetStream's deduplication, so headers on every
 *   delivery), and each delivery is checked and handed to the handler by the agent runtime.
 * - layout: the plain client again, on the mesh's stream layout: a stream (`AM_LAYOUT`) named as long as the mesh's,
 *   subjects with the publisher's token read through wildcard filters, consumers named and configured as the mesh's
 *   (`max_deliver` included), the event id as `Nats-Msg-Id`, and messages padded to the size of the mesh's stored
 *   events. Between plain and layout is what the layout costs; between layout and mesh, what the mesh's runtime does
 *   (its checks, its handlers' context and copies, the agents' own gRPC work, and the mesh's NATS permissions).
 * - brokerless: bench/pubsub.ts's throughput and latency in the same run (its own mesh, without NATS).
 * Throughput: acknowledged deliveries per second, from the first publish of a round until every subscriber has
 * handled every event of it; afterwards, the server's consumer info must show nothing pending or unacknowledged.
 * `meshAgainstPlain` is the ratio of the kinds' rates over all their rounds; `meshAgainstPlainByRound` (and the
 * like) the median over the rounds of each round's ratio, the two kinds measured one right after the other.
 * Latency: publish to handler at 1,000 events/s to one more subscriber in a process of its own (the publish time in
 * the payload), as bench/pubsub.ts measures it: the medians over the rounds of each round's p50 and p99. CPU µs per
 * delivery of the publisher's process (this one, which also hosts the idle control plane), of the subscriber
 * processes together, and of the NATS server. Kinds rotate (each goes first, second and last in turn) after
 * a warm-up of each; every wait is bounded.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AckPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createUser } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { startAgent } from '../src/agent/agent-runtime.js';
import { startControlPlane } from '../src/control-plane/control-plane.js';
import { consumerConfig } from '../src/control-plane/event-store.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { ensureIdentity, loadIdentity } from '../src/identity/certs-dir.js';
import { readNatsAuthority, signNatsUser } from '../src/nats/nats-accounts.js';
import { connectToEventStore } from '../src/nats/nats-connection.js';
import { EVENT_STREAM, consumerName, publisherToken } from '../src/nats/subjects.js';
import { storedEventToWire } from '../src/pubsub/jetstream/stored-event.js';
import { prepareEvent } from '../src/pubsub/prepared-event.js';
import { encodeEvent } from '../src/transport/delivery-codec.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { natsBinary, startNatsCluster, type NatsCluster } from '../test/helpers/nats.js';
import { makeCertsDir } from '../test/helpers/processes.js';
import { median, percentile } from './baseline.js';
import { benchPubSub } from './pubsub.js';
import { moduleUrl } from '../test/helpers/module-url.js';

type Figures = Record<string, number>;
type KindName = 'mesh' | 'plain' | 'layout';
const KINDS: readonly KindName[] = ['mesh', 'plain', 'layout'];
const SUBSCRIBERS = 100;
const PROCESSES = 2;
/** Events of each throughput round (each delivered to every subscriber), and the rounds of each kind. */
const EVENTS = 1_000;
const ROUNDS = 8;
const WARMUP = 300;
/** Publishes in flight at most, awaiting their PubAcks: bench/pubsub-nats.ts's window. */
const WINDOW = 500;
const PAYLOAD_BYTES = 1024;
/** Latency rounds of each kind (one second each), alternated, after the throughput rounds. */
const LATENCY_ROUNDS = 8;
const LATENCY_RATE = 1_000;
const LATENCY_EVENTS = 1_000;
const LATENCY_WARMUP = 200;
/** The most a round (or any other wait) may take before the scenario fails. */
const WAIT_MS = 60_000;
const PLAIN_STREAM = 'BENCH';
/** The plain client with the mesh's layout: a stream named as long as the mesh's, and subjects as the mesh's. */
const LAYOUT_STREAM = 'AM_LAYOUT';
const LAYOUT_PREFIX = 'la.ev';
const ACK_WAIT_MS = 30_000;
/** The mesh's default attempts per event, set on both the mesh's and the layout kind's consumers. */
const MAX_DELIVERIES = 5;
const NANOS_PER_MS = 1_000_000;
const MESH_PATTERN = 'bench.>';
const MESH_LATENCY_PATTERN = 'latency.>';
const ALL = { pub: { allow: ['>'], deny: [] }, sub: { allow: ['>'], deny: [] } };

/** Runs the scenario; empty figures (with a printed reason) when `nats-server` is not installed. */
export async function benchPubSubDurable(): Promise<Figures> {
  if (!natsBinary) {
    console.warn('pubsub-durable: skipped: nats-server is not on PATH (Debian package nats-server)');
    return {};
  }
  const durable = await benchDurable();
  // Today's brokerless figures, in the same run, once NATS and its subscribers are gone.
  const brokerless = await benchPubSub({ brokers: false });
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  return {
    meshDeliveriesPerSecond: durable.meshDeliveriesPerSecond!,
    plainDeliveriesPerSecond: durable.plainDeliveriesPerSecond!,
    brokerlessDeliveriesPerSecond: brokerless.deliveriesPerSecond!,
    meshAgainstPlain: ratio(durable.meshDeliveriesPerSecond!, durable.plainDeliveriesPerSecond!),
    meshAgainstBrokerless: ratio(durable.meshDeliveriesPerSecond!, brokerless.deliveriesPerSecond!),
    layoutDeliveriesPerSecond: durable.layoutDeliveriesPerSecond!,
    meshAgainstLayout: ratio(durable.meshDeliveriesPerSecond!, durable.layoutDeliveriesPerSecond!),
    layoutAgainstPlain: ratio(durable.layoutDeliveriesPerSecond!, durable.plainDeliveriesPerSecond!),
    ...durable,
    brokerlessLostEvents: brokerless.lostEvents!,
    brokerlessP50Ms: brokerless.publishToHandlerP50Ms!,
    brokerlessP99Ms: brokerless.publishToHandlerP99Ms!,
  };
}

/** What one kind of the durable scenario needs: how to publish one payload, its subscribers, its consumers. */
interface Kind {
  publish(payload: Buffer, latency: boolean): Promise<unknown>;
  sinks: Subscribers[];
  latencySink: Subscribers;
  /** The stream and consumer names of the 100 subscribers and of the latency subscriber. */
  stream: string;
  consumers: string[];
}

/** What a kind measured, summed over its rounds. */
interface Totals {
  deliveries: number;
  /** Each throughput round's duration, by round: the kinds of a round run one after the other. */
  roundMs: number[];
  publisherUs: number;
  subscribersUs: number;
  natsUs: number;
  latencyRounds: number[][];
}

async function benchDurable(): Promise<Figures> {
  const certs = await makeCertsDir();
  const opened: Array<() => Promise<unknown>> = [async () => certs.remove()];
  const close = async () => {
    for (const step of opened.reverse()) await step().catch(() => undefined);
  };
  try {
    const nats = await startNatsCluster({ size: 1, certsDir: certs.dir });
    opened.push(() => nats.stop());
    const controlPlane = await startControlPlane({
      certsDir: certs.dir,
      listen: '127.0.0.1:0',
      store: new MemoryStore(),
      logger: silentLogger(),
      events: { servers: nats.urls, ackWaitMs: ACK_WAIT_MS, maxDeliveries: MAX_DELIVERIES },
    });
    opened.push(() => controlPlane.close(0));
    const names = Array.from({ length: SUBSCRIBERS + 1 }, (_, i) => `dsink-${i}`);
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(
        names.slice(i, i + 8).map((name) => ensureIdentity(certs.dir, name, { types: ['sink'] })),
      );
    }
    const material = await ensureIdentity(certs.dir, 'dpublisher', { types: ['publisher'] });
    const admin = await connectAdmin(certs.dir, nats);
    opened.push(() => admin.close());
    const jsm = await jetstreamManager(admin);
    const js = jetstream(admin, { timeout: 10_000 });
    await jsm.streams.add({ name: PLAIN_STREAM, subjects: ['bench.>'], storage: StorageType.File });
    for (let i = 0; i <= SUBSCRIBERS; i += 1) {
      await jsm.consumers.add(PLAIN_STREAM, {
        durable_name: `sink-${i}`,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
        max_ack_pending: 1_000,
        filter_subject: i < SUBSCRIBERS ? 'bench.event' : 'bench.latency',
      });
    }

    // The layout kind: the plain client on the mesh's stream layout (subjects with the publisher's token read
    // through wildcard filters, consumers named and configured as the mesh names and configures them, the event id
    // as `Nats-Msg-Id`, and messages as large as the mesh's stored events), so that what is left between it and the
    // mesh is the mesh's runtime.
    await jsm.streams.add({
      name: LAYOUT_STREAM,
      subjects: [`${LAYOUT_PREFIX}.>`],
      storage: StorageType.File,
    });
    const identity = new MeshIdentity(material);
    const agentUri = (name: string) => `spiffe://${identity.spiffeId.trustDomain}/agent/${name}`;
    const patternOf = (i: number) => (i < SUBSCRIBERS ? MESH_PATTERN : MESH_LATENCY_PATTERN);
    // The consumers the control plane makes for the subscribers' agents, and the layout kind's of the same names.
    const meshConsumers = names.map((name, i) =>
      consumerName(agentUri(name), { pattern: patternOf(i), group: '' }),
    );
    for (let i = 0; i <= SUBSCRIBERS; i += 1) {
      const pattern = patternOf(i);
      await jsm.consumers.add(LAYOUT_STREAM, {
        ...consumerConfig(meshConsumers[i]!, pattern, {
          ackWaitMs: ACK_WAIT_MS,
          maxDeliveries: MAX_DELIVERIES,
        }),
        filter_subject: `${LAYOUT_PREFIX}.*.${pattern}`,
      });
    }
    const publisherTokenOfRun = publisherToken(identity.spiffeId.uri);
    const layoutSubjects = {
      event: `${LAYOUT_PREFIX}.${publisherTokenOfRun}.bench.event`,
      latency: `${LAYOUT_PREFIX}.${publisherTokenOfRun}.latency.event`,
    };
    const storedExtra = storedEventBytes(identity) - PAYLOAD_BYTES;

    const sinksOf = (mode: KindName, address: string, source: string, latencySource: string) => {
      const perProcess = SUBSCRIBERS / PROCESSES;
      const targets = [WARMUP, ...Array.from({ length: ROUNDS }, (_, r) => WARMUP + (r + 1) * EVENTS)];
      const latencyTargets = [
        LATENCY_WARMUP,
        ...Array.from({ length: LATENCY_ROUNDS }, (_, r) => LATENCY_WARMUP + (r + 1) * LATENCY_EVENTS),
      ];
      const sinks = Array.from({ length: PROCESSES }, (_, p) =>
        spawnSubscribers([
          mode,
          certs.dir,
          address,
          source,
          String(p * perProcess),
          String(perProcess),
          targets.join(','),
        ]),
      );
      const latencySink = spawnSubscribers([
        mode,
        certs.dir,
        address,
        latencySource,
        String(SUBSCRIBERS),
        '1',
        latencyTargets.join(','),
      ]);
      for (const sink of [...sinks, latencySink]) opened.push(() => sink.stop());
      return { sinks, latencySink };
    };
    // One kind's subscribers start after the other's, so that 100 agents registering do not slow 100 connections.
    const meshSinks = sinksOf('mesh', controlPlane.address, MESH_PATTERN, MESH_LATENCY_PATTERN);
    await Promise.all([...meshSinks.sinks, meshSinks.latencySink].map((sink) => sink.ready));
    const plainSinks = sinksOf('plain', nats.urls[0]!, PLAIN_STREAM, PLAIN_STREAM);
    await Promise.all([...plainSinks.sinks, plainSinks.latencySink].map((sink) => sink.ready));
    const layoutSinks = sinksOf(
      'layout',
      nats.urls[0]!,
      `${LAYOUT_STREAM}:${MESH_PATTERN}`,
      `${LAYOUT_STREAM}:${MESH_LATENCY_PATTERN}`,
    );
    await Promise.all([...layoutSinks.sinks, layoutSinks.latencySink].map((sink) => sink.ready));

    const publisher = await startAgent({
      identity,
      controlPlane: controlPlane.address,
      type: 'publisher',
    });
    opened.push(() => publisher.drain(0));
    if (!publisher.durableEvents)
      throw new Error('the publisher did not get the event store from the control plane');
    const kinds: Record<KindName, Kind> = {
      mesh: {
        publish: (payload, latency) => publisher.publish(latency ? 'latency.event' : 'bench.event', payload),
        ...meshSinks,
        stream: EVENT_STREAM,
        consumers: meshConsumers,
      },
      plain: {
        publish: (payload, latency) => js.publish(latency ? 'bench.latency' : 'bench.event', payload),
        ...plainSinks,
        stream: PLAIN_STREAM,
        consumers: names.map((_, i) => `sink-${i}`),
      },
      layout: {
        publish: (payload, latency) =>
          js.publish(
            latency ? layoutSubjects.latency : layoutSubjects.event,
            Buffer.concat([payload, Buffer.alloc(storedExtra)]),
            { msgID: randomUUID() },
          ),
        ...layoutSinks,
        stream: LAYOUT_STREAM,
        consumers: meshConsumers,
      },
    };
    const natsCpuUs = natsCpu();
    const totals = Object.fromEntries(
      KINDS.map((kind) => [
        kind,
        { deliveries: 0, roundMs: [], publisherUs: 0, subscribersUs: 0, natsUs: 0, latencyRounds: [] },
      ]),
    ) as unknown as Record<KindName, Totals>;
    const counters: Record<KindName, { events: number; latency: number }> = {
      mesh: { events: 0, latency: 0 },
      plain: { events: 0, latency: 0 },
      layout: { events: 0, latency: 0 },
    };

    // Warm-up: connections, consumers and code paths, on every kind.
    for (const name of KINDS) {
      const kind = kinds[name];
      await windowed(kind, counters[name], WARMUP);
      await Promise.all(kind.sinks.map((sink) => sink.reached(WARMUP)));
      await windowed(kind, counters[name], LATENCY_WARMUP, true);
      await kind.latencySink.reached(LATENCY_WARMUP);
    }

    for (let round = 0; round < ROUNDS; round += 1) {
      const order = rotated(round);
      for (const name of order) {
        const kind = kinds[name];
        const target = WARMUP + (round + 1) * EVENTS;
        const cpuBefore = await Promise.all(kind.sinks.map((sink) => sink.cpu()));
        const natsBefore = natsCpuUs();
        const publisherBefore = process.cpuUsage();
        const started = performance.now();
        await windowed(kind, counters[name], EVENTS);
        await Promise.all(kind.sinks.map((sink) => sink.reached(target)));
        const ms = performance.now() - started;
        const publisherCpu = process.cpuUsage(publisherBefore);
        const natsAfter = natsCpuUs();
        const cpuAfter = await Promise.all(kind.sinks.map((sink) => sink.cpu()));
        const total = totals[name];
        total.deliveries += SUBSCRIBERS * EVENTS;
        total.roundMs.push(ms);
        total.publisherUs += publisherCpu.user + publisherCpu.system;
        total.subscribersUs += cpuAfter.reduce((sum, us, i) => sum + us - cpuBefore[i]!, 0);
        total.natsUs += natsAfter - natsBefore;
      }
    }
    for (let round = 0; round < LATENCY_ROUNDS; round += 1) {
      for (const name of rotated(round)) {
        const kind = kinds[name];
        await fixedRate(kind, counters[name]);
        const latencies = await kind.latencySink.reached(LATENCY_WARMUP + (round + 1) * LATENCY_EVENTS);
        totals[name].latencyRounds.push(latencies.sort((a, b) => a - b));
      }
    }

    const figures: Figures = {};
    for (const name of KINDS) {
      const total = totals[name];
      const { unacknowledged, redelivered } = await settled(jsm, kinds[name]);
      const p = (q: number) => median(total.latencyRounds.map((sorted) => percentile(sorted, q)));
      Object.assign(figures, {
        [`${name}DeliveriesPerSecond`]: Math.round(
          (total.deliveries / total.roundMs.reduce((sum, ms) => sum + ms, 0)) * 1000,
        ),
        [`${name}Unacknowledged`]: unacknowledged,
        [`${name}Redelivered`]: redelivered,
        [`${name}P50Ms`]: p(50),
        [`${name}P99Ms`]: p(99),
        [`${name}PublisherCpuUsPerDelivery`]: total.publisherUs / total.deliveries,
        [`${name}SubscribersCpuUsPerDelivery`]: total.subscribersUs / total.deliveries,
        [`${name}NatsCpuUsPerDelivery`]: total.natsUs / total.deliveries,
        [`${name}CpuUsPerDelivery`]:
          (total.publisherUs + total.subscribersUs + total.natsUs) / total.deliveries,
      });
    }
    // Each round's ratio of two kinds, run one after the other in it, and the median of those: a figure that a
    // slower or faster stretch of the machine moves less than the ratio of the totals, which it moves through
    // whichever kinds it falls on.
    const byRound = (a: KindName, b: KindName) =>
      Math.round(median(totals[a].roundMs.map((ms, round) => totals[b].roundMs[round]! / ms)) * 100) / 100;
    Object.assign(figures, {
      meshAgainstPlainByRound: byRound('mesh', 'plain'),
      meshAgainstLayoutByRound: byRound('mesh', 'layout'),
      layoutAgainstPlainByRound: byRound('layout', 'plain'),
    });
    return { subscribers: SUBSCRIBERS, events: ROUNDS * EVENTS, ...figures };
  } finally {
    await close();
  }
}

/** The admin connection of the plain baseline: a user with every permission, over TLS as the control plane. */
async function connectAdmin(certsDir: string, nats: NatsCluster): Promise<NatsConnection> {
  const identity = new MeshIdentity(await loadIdentity(certsDir, 'control-plane'));
  const user = createUser();
  const jwt = await signNatsUser(await readNatsAuthority(certsDir), {
    name: 'bench-admin',
    publicKey: user.getPublicKey(),
    permissions: ALL,
    expiresAt: 0,
  });
  return connectToEventStore({
    identity,
    servers: nats.urls,
    serverIdentity: `spiffe://${identity.spiffeId.trustDomain}/agent/nats`,
    credentials: () => ({ jwt, seed: user.getSeed() }),
    name: 'bench-admin',
  });
}

/** A payload of the run: its publish time and index first, then the byte of a latency probe (see the subscribers). */
function payloadOf(index: number, latency: boolean): Buffer {
  const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
  payload.writeDoubleLE(performance.timeOrigin + performance.now(), 0);
  payload.writeUInt32LE(index, 8);
  payload[12] = latency ? 1 : 0;
  return payload;
}

/** The kinds in the order of round `round`: each goes first, second and last in turn. */
function rotated(round: number): KindName[] {
  return KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]!);
}

/** The size of an event with a `PAYLOAD_BYTES` payload as `publisher`'s mesh stores it (see stored-event.ts). */
function storedEventBytes(publisher: MeshIdentity): number {
  const { event } = prepareEvent({ identity: publisher }, 'bench.event', Buffer.alloc(PAYLOAD_BYTES), {});
  return encodeEvent(storedEventToWire(event)).length;
}

/** Publishes `count` events of a kind, at most `WINDOW` awaiting their PubAcks; resolves when all are acked. */
async function windowed(
  kind: Kind,
  counter: { events: number; latency: number },
  count: number,
  latency = false,
): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i += 1) {
    while (inFlight.size >= WINDOW) await Promise.race(inFlight);
    const index = latency ? counter.latency++ : counter.events++;
    const acked = kind.publish(payloadOf(index, latency), latency).finally(() => inFlight.delete(acked));
    inFlight.add(acked);
  }
  await Promise.all(inFlight);
}

/** `LATENCY_EVENTS` probes at `LATENCY_RATE` a second, on a steady schedule (no timers: they would send bursts). */
async function fixedRate(kind: Kind, counter: { events: number; latency: number }): Promise<void> {
  const acked: Promise<unknown>[] = [];
  const begin = performance.now();
  for (let i = 0; i < LATENCY_EVENTS; i += 1) {
    const due = begin + (i * 1000) / LATENCY_RATE;
    while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
    acked.push(kind.publish(payloadOf(counter.latency++, true), true));
  }
  await Promise.all(acked);
}

/**
 * The server's count, once the acks still on their way have arrived (waiting up to 10 s for it): messages not yet
 * delivered or not acknowledged, over the kind's consumers, and the redeliveries there were.
 */
async function settled(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  kind: Kind,
): Promise<{ unacknowledged: number; redelivered: number }> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    let unacknowledged = 0;
    let redelivered = 0;
    for (const consumer of kind.consumers) {
      const info = await jsm.consumers.info(kind.stream, consumer);
      unacknowledged += info.num_ack_pending + info.num_pending;
      redelivered += info.num_redelivered;
    }
    if (unacknowledged === 0 || performance.now() > deadline) return { unacknowledged, redelivered };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The NATS server's CPU time so far (µs, from /proc: user and system), as a function; the server is the one child
 * of this process named `nats-server`.
 */
function natsCpu(): () => number {
  const pid = readdirSync('/proc').find((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return stat.includes('(nats-server)') && Number(fields[1]) === process.pid;
    } catch {
      return false;
    }
  });
  if (!pid) return () => Number.NaN;
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  return () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime), counted from the state, field 3.
    return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1_000_000;
  };
}

/** A process of subscribers (bench/pubsub-durable-subscribers.ts). */
interface Subscribers {
  ready: Promise<void>;
  /** Resolves with the latencies recorded up to `target` once every subscriber reached it; bounded by `WAIT_MS`. */
  reached(target: number): Promise<number[]>;
  /** Its CPU time so far (user and system, µs), as it reports it on SIGUSR2 (bench/cpu-report.ts). */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(moduleUrl('./pubsub-durable-subscribers.ts', import.meta.url));
const CPU_REPORT = moduleUrl('./cpu-report.ts', import.meta.url).href;

function spawnSubscribers(args: string[]): Subscribers {
  const child = spawn(process.execPath, [...process.execArgv, '--import', CPU_REPORT, SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const reached = new Map<number, number[]>();
  const waiters = new Map<number, () => void>();
  const cpuReports: Array<(us: number) => void> = [];
  let onReady: (() => void) | undefined;
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') onReady?.();
      const target = /^reached (\d+) (.*)$/.exec(line);
      if (target) {
        reached.set(Number(target[1]), JSON.parse(target[2]!) as number[]);
        waiters.get(Number(target[1]))?.();
      }
      const cpu = /^cpu (\d+)$/.exec(line);
      if (cpu) cpuReports.shift()?.(Number(cpu[1]));
    }
  });
  const bounded = <T>(what: string, wait: (resolve: (value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`subscribers ${args.slice(0, 1).join(' ')} ${args[4]}: ${what} within ${WAIT_MS} ms`),
          ),
        WAIT_MS,
      );
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`subscribers ${args[0]} ${args[4]} exited (${exitCode}) before ${what}`));
      });
      wait((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  const ready = bounded<void>('ready', (resolve) => (onReady = resolve));
  ready.catch(() => undefined);
  return {
    ready,
    reached: (target) =>
      bounded(`reached ${target}`, (resolve) => {
        const done = () => resolve(reached.get(target)!);
        if (reached.has(target)) done();
        else waiters.set(target, done);
      }),
    cpu: () =>
      bounded('a CPU report', (resolve) => {
        cpuReports.push(resolve);
        child.kill('SIGUSR2');
      }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // Its agents drain without a grace period; should that hang, it is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
