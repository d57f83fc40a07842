/**
 * The broker baseline of the pub/sub benchmark: the same 1 publisher → 100 subscribers, 1 KB, through a real
 * `nats-server` (Debian's package, `apt-get install nats-server`; skipped with a printed reason when it is not on
 * PATH), measured in the same run as agent-mesh:
 * - JetStream: one stream, a durable pull consumer per subscriber with explicit acks (`AckPolicy.Explicit`), every
 *   message acknowledged by its subscriber; the publisher awaits each publish's PubAck, keeping the same window of
 *   events in flight as the agent-mesh publisher. With file storage (JetStream's default) and memory storage.
 * - core NATS: plain subscriptions, no acks, no persistence: the ceiling of a broker on this machine.
 * Subscribers run in two child processes (bench/pubsub-nats-subscribers.ts), 50 connections each, as the agent-mesh
 * subscribers run 50 agents each. A run ends when every subscriber has handled every event and its acks are on the
 * server. NATS runs without TLS (agent-mesh pays for mTLS on every link), on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AckPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { findOnPath } from '../test/helpers/system-binary.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { moduleUrl } from '../test/helpers/module-url.js';

/** What the agent-mesh run used, so that both sides do the same work. */
export interface NatsBenchShape {
  subscribers: number;
  processes: number;
  warmupEvents: number;
  events: number;
  /** Publishes in flight at most (JetStream): the agent-mesh publisher's pending window over its subscribers. */
  window: number;
  payload: Buffer;
}

type Figures = Record<string, number>;
const STREAM = 'BENCH';
const SUBJECT = 'natsbench.event';
const WAIT_MS = 180_000;

/** Runs the NATS baselines; empty figures (with a printed reason) when `nats-server` is not installed. */
export async function benchNats(shape: NatsBenchShape): Promise<Figures> {
  const binary = findOnPath('nats-server');
  if (!binary) {
    console.warn(
      'pubsub: skipping the NATS comparison: nats-server is not on PATH (Debian package nats-server)',
    );
    return {};
  }
  const server = await startNatsServer(binary);
  try {
    const figures: Figures = {};
    for (const [name, storage] of [
      ['natsJetStreamFile', StorageType.File],
      ['natsJetStreamMemory', StorageType.Memory],
    ] as const) {
      const result = await benchJetStream(server.port, storage, shape);
      figures[`${name}DeliveriesPerSecond`] = result.deliveriesPerSecond;
      figures[`${name}Unacknowledged`] = result.unacknowledged;
    }
    figures.natsCoreDeliveriesPerSecond = await benchCore(server.port, shape);
    return figures;
  } finally {
    await server.stop();
  }
}

async function benchJetStream(
  port: number,
  storage: StorageType,
  shape: NatsBenchShape,
): Promise<{ deliveriesPerSecond: number; unacknowledged: number }> {
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], storage });
  for (let i = 0; i < shape.subscribers; i += 1) {
    await jsm.consumers.add(STREAM, { durable_name: `sink-${i}`, ack_policy: AckPolicy.Explicit });
  }
  const sinks = spawnSinks(port, 'jetstream', STREAM, shape);
  try {
    await Promise.all(sinks.map((sink) => sink.reached('ready')));
    const inFlight = new Set<Promise<unknown>>();
    const publish = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        while (inFlight.size >= shape.window) await Promise.race(inFlight);
        const acked = js.publish(SUBJECT, shape.payload).finally(() => inFlight.delete(acked));
        inFlight.add(acked);
      }
      await Promise.all(inFlight);
    };
    await publish(shape.warmupEvents);
    await Promise.all(sinks.map((sink) => sink.reached(`reached ${shape.warmupEvents}`)));
    const started = performance.now();
    await publish(shape.events);
    await Promise.all(sinks.map((sink) => sink.reached(`reached ${shape.warmupEvents + shape.events}`)));
    const seconds = (performance.now() - started) / 1000;
    // The server's own count: every consumer has every message acknowledged.
    let unacknowledged = 0;
    for (let i = 0; i < shape.subscribers; i += 1) {
      const info = await jsm.consumers.info(STREAM, `sink-${i}`);
      unacknowledged += info.num_ack_pending + info.num_pending;
    }
    return { deliveriesPerSecond: Math.round((shape.subscribers * shape.events) / seconds), unacknowledged };
  } finally {
    await Promise.all(sinks.map((sink) => sink.stop()));
    await jsm.streams.delete(STREAM);
    await nc.close();
  }
}

async function benchCore(port: number, shape: NatsBenchShape): Promise<number> {
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const sinks = spawnSinks(port, 'core', SUBJECT, shape);
  try {
    await Promise.all(sinks.map((sink) => sink.reached('ready')));
    for (let i = 0; i < shape.warmupEvents; i += 1) nc.publish(SUBJECT, shape.payload);
    await Promise.all(sinks.map((sink) => sink.reached(`reached ${shape.warmupEvents}`)));
    const started = performance.now();
    for (let i = 0; i < shape.events; i += 1) {
      nc.publish(SUBJECT, shape.payload);
      // Let the client write out what it buffered now and then, as a publisher that does other work would.
      if (i % shape.window === shape.window - 1) await nc.flush();
    }
    await Promise.all(sinks.map((sink) => sink.reached(`reached ${shape.warmupEvents + shape.events}`)));
    return Math.round((shape.subscribers * shape.events) / ((performance.now() - started) / 1000));
  } finally {
    await Promise.all(sinks.map((sink) => sink.stop()));
    await nc.close();
  }
}

interface NatsServer {
  port: number;
  stop(): Promise<void>;
}

/** `nats-server` with JetStream on a port of its choosing (read from its log), storing in a temporary directory. */
async function startNatsServer(binary: string): Promise<NatsServer> {
  const temp = await makeTempDir('agent-mesh-bench-nats-');
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', temp.dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await temp.remove();
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let log = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const listening = /Listening for client connections on [\d.]+:(\d+)/.exec(log);
        if (listening) resolve(Number(listening[1]));
      });
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log.slice(-500)}`)));
    });
    return { port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface Sinks {
  /** Resolves when the process has printed `line`; rejects when it exits first or after a bounded wait. */
  reached(line: string): Promise<void>;
  stop(): Promise<void>;
}

function spawnSinks(
  port: number,
  mode: 'jetstream' | 'core',
  source: string,
  shape: NatsBenchShape,
): Sinks[] {
  const perProcess = shape.subscribers / shape.processes;
  const targets = `${shape.warmupEvents},${shape.warmupEvents + shape.events}`;
  return Array.from({ length: shape.processes }, (_, p) =>
    spawnSink([String(port), mode, source, String(p * perProcess), String(perProcess), targets]),
  );
}

function spawnSink(args: string[]): Sinks {
  const script = fileURLToPath(moduleUrl('./pubsub-nats-subscribers.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = new Set<string>();
  const waiters = new Map<string, () => void>();
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const split = (partial + chunk.toString()).split('\n');
    partial = split.pop()!;
    for (const line of split) {
      lines.add(line);
      waiters.get(line)?.();
    }
  });
  return {
    reached(line) {
      if (lines.has(line)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`NATS subscribers did not print "${line}" within ${WAIT_MS} ms`)),
          WAIT_MS,
        );
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.set(line, done);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`NATS subscribers exited (${code}) before "${line}"`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
