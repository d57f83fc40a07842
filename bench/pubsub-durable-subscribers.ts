/**
 * The subscribers of the durable pub/sub benchmark (bench/pubsub-durable.ts), several in one process:
 * `tsx bench/pubsub-durable-subscribers.ts <mesh|plain|layout> <certs-dir> <control-plane address | NATS URL> <pattern or
 * stream> <first index> <count> <targets>`.
 * - `mesh`: agent `dsink-<i>` (type `sink`) subscribes to `<pattern>` (no group), so the control plane gives it a
 *   durable consumer of its own on the mesh's stream; the agent runtime reads it and acknowledges each handled event.
 * - `plain`: connection `i` (its own NATS user, signed with the mesh's NATS authority with every permission, over
 *   TLS with the control plane's certificate, as the benchmark's publisher connects) consumes the durable pull
 *   consumer `sink-<i>` of the stream `<stream>` (made by the benchmark, explicit acks) and acknowledges every
 *   message.
 * - `layout`: as `plain`, on the stream and pattern of `<stream>:<pattern>`, reading the consumer the mesh would
 *   name for agent `dsink-<i>`'s subscription to `<pattern>` (the benchmark makes it as the mesh makes consumers).
 * Every payload starts with its publish time (f64 LE, ms since the epoch, sub-millisecond) and its index in the run
 * (u32 LE at byte 8): a subscriber counts distinct indexes (a redelivery cannot hide a lost event) and, for an event
 * marked as a latency probe (byte 12 is 1), records its publish-to-handler latency. `targets` is a comma-separated list of counts: when every subscriber of the
 * process has handled that many distinct events, the process prints `reached <target> <latencies>`, a JSON array of
 * the latencies (ms) its subscribers recorded since the previous target. The benchmark checks the acks on the server
 * itself (consumer info), for every mode alike. Prints `ready` once every subscriber is consuming.
 */
import { performance } from 'node:perf_hooks';
import { jetstream } from '@nats-io/jetstream';
import { createUser } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { readNatsAuthority, signNatsUser } from '../src/nats/nats-accounts.js';
import { connectToEventStore } from '../src/nats/nats-connection.js';
import { consumerName } from '../src/nats/subjects.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const [mode, certsDir, address, source, first, count, targetList] = process.argv.slice(2);
const targets = targetList!.split(',').map(Number);
const now = () => performance.timeOrigin + performance.now();
const handled: number[] = [];
let latencies: number[] = [];
let next = 0;

/** Prints each target that every subscriber of the process has reached, with the latencies recorded until then. */
function check(): void {
  while (next < targets.length && handled.every((n) => n >= targets[next]!)) {
    console.log(
      `reached ${targets[next]} ${JSON.stringify(latencies.map((ms) => Math.round(ms * 1000) / 1000))}`,
    );
    latencies = [];
    next += 1;
  }
}

/** A subscriber's handler of one payload: counts it once by index, records its latency. */
function counter(): (payload: Uint8Array) => void {
  const index = handled.push(0) - 1;
  const seen = new Set<number>();
  return (payload) => {
    const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (view[12] === 1) latencies.push(now() - view.readDoubleLE(0));
    const event = view.readUInt32LE(8);
    if (seen.has(event)) return;
    seen.add(event);
    handled[index] = seen.size;
    if (next < targets.length && seen.size >= targets[next]!) check();
  };
}

const agents: RunningAgent[] = [];
const connections: NatsConnection[] = [];
const firstIndex = Number(first);
const last = firstIndex + Number(count);
if (mode === 'mesh') {
  for (let i = firstIndex; i < last; i += 1) {
    const name = `dsink-${i}`;
    const handle = counter();
    agents.push(
      await startAgent({
        identity: new MeshIdentity(await loadIdentity(certsDir!, name)),
        controlPlane: address!,
        type: 'sink',
        labels: { instance: name },
        leaseTtlMs: 300_000,
        subscriptions: [{ pattern: source!, maxInFlight: 1_000, handler: (event) => handle(event.payload) }],
      }),
    );
  }
} else {
  const identity = new MeshIdentity(await loadIdentity(certsDir!, 'control-plane'));
  const authority = await readNatsAuthority(certsDir!);
  for (let i = firstIndex; i < last; i += 1) {
    const user = createUser();
    const jwt = await signNatsUser(authority, {
      name: `bench-sink-${i}`,
      publicKey: user.getPublicKey(),
      permissions: { pub: { allow: ['>'], deny: [] }, sub: { allow: ['>'], deny: [] } },
      expiresAt: 0,
    });
    const nc = await connectToEventStore({
      identity,
      servers: [address!],
      serverIdentity: `spiffe://${identity.spiffeId.trustDomain}/agent/nats`,
      credentials: () => ({ jwt, seed: user.getSeed() }),
      name: `sink-${i}`,
    });
    connections.push(nc);
    const handle = counter();
    // `layout`: the consumer the mesh would name for agent `dsink-<i>` subscribing to the pattern after the colon.
    const [stream, pattern] = source!.split(':');
    const consumerOf =
      mode === 'layout'
        ? consumerName(`spiffe://${identity.spiffeId.trustDomain}/agent/dsink-${i}`, {
            pattern: pattern!,
            group: '',
          })
        : `sink-${i}`;
    const consumer = await jetstream(nc).consumers.get(stream!, consumerOf);
    await consumer.consume({
      max_messages: 1_000,
      callback: (message) => {
        handle(message.data);
        message.ack();
      },
    });
  }
}
console.log('ready');
process.on('SIGTERM', () => {
  void Promise.all([
    ...agents.map((agent) => agent.drain(0)),
    ...connections.map((nc) => nc.close()),
  ]).finally(() => process.exit(0));
});
