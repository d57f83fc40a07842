/**
 * What the benchmarks share: percentiles, the baseline they compare against (plain grpc-js mTLS calls), and the
 * alternating throughput rounds (with CPU per call) and fixed-rate latency rounds they measure in.
 */
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import type { IdentityMaterial } from '../src/identity/certs-dir.js';
import { MESH_CHANNEL_OPTIONS } from '../src/transport/credentials.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import type { BenchProcess } from './setup.js';

/** The value at percentile `p` (0-100) of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Calls `call` from `concurrency` loops for `durationMs`, each starting its next call when one ends; the calls made. */
export async function closedLoop(
  call: () => Promise<unknown>,
  durationMs: number,
  concurrency: number,
): Promise<number> {
  let calls = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        calls += 1;
      }
    }),
  );
  return calls;
}

/** The median of `values` (any order). */
export function median(values: number[]): number {
  return percentile(
    [...values].sort((x, y) => x - y),
    50,
  );
}

/**
 * The baseline clients' channel options: the mesh's keepalive, reconnect backoff and TLS server name (so that both
 * sides keep their connections alike), and grpc-js's defaults for the rest, as a user's own client has them: with
 * channelz on, which the mesh's channels turn off.
 */
export const BASELINE_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze(
  Object.fromEntries(Object.entries(MESH_CHANNEL_OPTIONS).filter(([key]) => key !== 'grpc.enable_channelz')),
);

/**
 * A plain grpc-js `createSsl` mTLS client of an agent, with no agent-mesh code on its path: the baseline. With
 * `options`, other channel options than {@link BASELINE_CHANNEL_OPTIONS}.
 */
export function directAgentClient(
  address: string,
  material: IdentityMaterial,
  options: grpc.ChannelOptions = BASELINE_CHANNEL_OPTIONS,
): AgentClient {
  const { protos } = loadMeshProtos();
  return new protos.agentmesh.v1.Agent(
    address,
    grpc.credentials.createSsl(
      Buffer.from(material.trustBundlePem),
      Buffer.from(material.privateKeyPem),
      Buffer.from(material.certificatePem),
      { checkServerIdentity: () => undefined },
    ),
    options,
  );
}

/** Invokes the generic `echo` method over a direct client, with a 10 s deadline. */
export function directEcho(client: AgentClient, payload: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    client.Invoke(
      { method: 'echo', payload, contentType: 'application/octet-stream' },
      { deadline: Date.now() + 10_000 },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
}

/** The heap in use after two full garbage collections (with `--expose-gc`, as `npm run bench` runs). */
export function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** One kind of call in alternating throughput rounds: how to make it, and the processes that serve it. */
export interface Kind {
  call: () => Promise<unknown>;
  /** The child processes a call of this kind runs in besides this one (e.g. a sidecar and its app). */
  servers: BenchProcess[];
}

/** What a kind measured: calls per second, and CPU µs per call in the client, in the servers and both. */
export interface Throughput {
  callsPerSecond: number;
  clientCpuUsPerCall: number;
  /** All of the kind's server processes together. */
  serverCpuUsPerCall: number;
  /** Each server process, in the order of {@link Kind.servers}. */
  serversCpuUsPerCall: number[];
  cpuUsPerCall: number;
}

/**
 * Closed-loop throughput of each kind (32 calls in flight for `durationMs` in all, over `rounds` rounds), in
 * alternating rounds (one of each kind per round) so that all see the same machine, with the CPU time each round
 * cost this process (the client) and the kind's server processes (as they report it on SIGUSR2).
 */
export async function alternating<K extends string>(
  kinds: Record<K, Kind>,
  { durationMs = 3_000, rounds = 6, concurrency = 32 } = {},
): Promise<Record<K, Throughput>> {
  const names = Object.keys(kinds) as K[];
  const totals = Object.fromEntries(
    names.map((name) => [name, { calls: 0, client: 0, servers: kinds[name].servers.map(() => 0) }]),
  ) as Record<K, { calls: number; client: number; servers: number[] }>;
  const cpuOf = (servers: BenchProcess[]) => Promise.all(servers.map((server) => server.cpu()));
  for (let round = 0; round < rounds; round += 1) {
    for (const name of names) {
      const { call, servers } = kinds[name];
      const serversBefore = await cpuOf(servers);
      const clientBefore = process.cpuUsage();
      totals[name].calls += await closedLoop(call, durationMs / rounds, concurrency);
      const client = process.cpuUsage(clientBefore);
      totals[name].client += client.user + client.system;
      const serversAfter = await cpuOf(servers);
      serversAfter.forEach((after, i) => (totals[name].servers[i]! += after - serversBefore[i]!));
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const { calls, client, servers } = totals[name];
      const server = servers.reduce((sum, us) => sum + us, 0);
      return [
        name,
        {
          callsPerSecond: Math.round((calls / durationMs) * 1000),
          clientCpuUsPerCall: client / calls,
          serverCpuUsPerCall: server / calls,
          serversCpuUsPerCall: servers.map((us) => us / calls),
          cpuUsPerCall: (client + server) / calls,
        },
      ];
    }),
  ) as Record<K, Throughput>;
}

/** A latency summary. */
export interface Tail {
  p50: number;
  p99: number;
}

/**
 * One round at a fixed rate (open loop): starts `roundCalls` calls of each kind on a steady schedule of
 * `ratePerSecond` each, the two kinds on alternate ticks, and measures each call's latency from its start.
 */
async function fixedRateRound(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  ratePerSecond: number,
  roundCalls: number,
): Promise<[Tail, Tail]> {
  const latenciesA: number[] = [];
  const latenciesB: number[] = [];
  const pending: Promise<unknown>[] = [];
  const start = performance.now();
  for (let i = 0; i < 2 * roundCalls; i += 1) {
    const due = start + (i * 1000) / (2 * ratePerSecond);
    // Wait for the tick without timers (whose millisecond granularity would send calls in bursts).
    while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
    // a b b a a b b a ...: neither kind is always the first of a pair (which waits longer in a shared pause).
    const [call, latencies] = i % 4 === 0 || i % 4 === 3 ? [a, latenciesA] : [b, latenciesB];
    const began = performance.now();
    pending.push(call().then(() => latencies.push(performance.now() - began)));
  }
  await Promise.all(pending);
  const summary = (latencies: number[]): Tail => {
    latencies.sort((x, y) => x - y);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  };
  return [summary(latenciesA), summary(latenciesB)];
}

/**
 * Latency at a fixed rate (default 1,000 calls/s each, AGENT_MESH_BENCH_RATE to change it) over `rounds` rounds of
 * `roundCalls` calls each. This machine's tail is set by pauses that both paths share (a server process's garbage
 * collection, the virtual machine's scheduling): one such pause in a round moves both p99s by milliseconds. Calls
 * of the two kinds alternate, so a pause hits both alike; the figures are the medians over the rounds of each p50
 * and p99 and of the round's paired p99 difference, and the spread of that difference.
 */
export async function fixedRate(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  {
    ratePerSecond = Number(process.env.AGENT_MESH_BENCH_RATE ?? 1_000),
    rounds: count = 20,
    roundCalls = 1_000,
  } = {},
) {
  const rounds: [Tail, Tail][] = [];
  for (let round = 0; round < count; round += 1)
    rounds.push(await fixedRateRound(a, b, ratePerSecond, roundCalls));
  const added = rounds.map(([x, y]) => y.p99 - x.p99);
  return {
    aP50: median(rounds.map(([x]) => x.p50)),
    bP50: median(rounds.map(([, y]) => y.p50)),
    aP99: median(rounds.map(([x]) => x.p99)),
    bP99: median(rounds.map(([, y]) => y.p99)),
    p99Added: median(added),
    p99AddedMin: Math.min(...added),
    p99AddedMax: Math.max(...added),
  };
}
