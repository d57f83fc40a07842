/**
 * A 1 KB unary call through the mesh (endpoint cache, balancer, mesh client, mTLS with SPIFFE checks) against a
 * direct grpc-js mTLS call to the same handler on the same server (the baseline), in one run:
 * - throughput, closed loop, 32 calls in flight, in alternating rounds (direct, mesh, direct, ...) so that both
 *   see the same machine;
 * - latency p50/p99 at a fixed rate of 1,000 calls/s each (AGENT_MESH_BENCH_RATE to change it), direct and mesh
 *   calls on alternate ticks, in 20 rounds of one second (1,000 calls each) (medians over the rounds; see fixedRate).
 * The agent runs in a child process (test/fixtures/agents/worker-agent.ts), as it would in a deployment.
 */
import { performance } from 'node:perf_hooks';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { closedLoop, directAgentClient, directEcho, median, percentile } from './baseline.js';
import { spawnBenchProcess, startBenchMesh } from './setup.js';

type Figures = Record<string, number>;
const PAYLOAD = Buffer.alloc(1024, 7);
const THROUGHPUT_MS = 3_000;
const CONCURRENCY = 32;
const RATE_PER_SECOND = Number(process.env.AGENT_MESH_BENCH_RATE ?? 1_000);
const ROUNDS = 20;
const ROUND_CALLS = 1_000;

/** Closed-loop throughput of both, in alternating rounds; calls per second each. */
async function alternating(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  const rounds = 6;
  let callsA = 0;
  let callsB = 0;
  for (let round = 0; round < rounds; round += 1) {
    callsA += await closedLoop(a, THROUGHPUT_MS / rounds, CONCURRENCY);
    callsB += await closedLoop(b, THROUGHPUT_MS / rounds, CONCURRENCY);
  }
  return [Math.round((callsA / THROUGHPUT_MS) * 1000), Math.round((callsB / THROUGHPUT_MS) * 1000)];
}

interface Tail {
  p50: number;
  p99: number;
}

/**
 * One round at a fixed rate (open loop): starts calls on a steady schedule, the two kinds on alternate ticks, and
 * measures each call's latency from its start.
 */
async function fixedRateRound(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[Tail, Tail]> {
  const latenciesA: number[] = [];
  const latenciesB: number[] = [];
  const pending: Promise<unknown>[] = [];
  const start = performance.now();
  for (let i = 0; i < 2 * ROUND_CALLS; i += 1) {
    const due = start + (i * 1000) / (2 * RATE_PER_SECOND);
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
 * Latency at a fixed rate over several rounds. This machine's tail is set by pauses that both paths share (the
 * agent process's garbage collection, the virtual machine's scheduling): one such pause in a round moves both
 * p99s by milliseconds. Calls of the two kinds alternate, so a pause hits both alike; the figures are the medians
 * over the rounds of each p50 and p99 and of the round's paired p99 difference, and the spread of that difference.
 */
async function fixedRate(a: () => Promise<unknown>, b: () => Promise<unknown>) {
  const rounds: [Tail, Tail][] = [];
  for (let round = 0; round < ROUNDS; round += 1) rounds.push(await fixedRateRound(a, b));
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

export async function benchMeshCall(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  // The agent runs in its own process, as in a deployment: this process holds only the two clients.
  await ensureIdentity(certsDir, 'echo-1', { types: ['echo'] });
  const agent = spawnBenchProcess(
    new URL('../test/fixtures/agents/worker-agent.ts', import.meta.url),
    [certsDir, controlPlane.address, 'echo-1', 'echo'],
    /ready (\S+)/,
  );
  const address = (await agent.ready)[1]!;

  const callerMaterial = await ensureIdentity(certsDir, 'caller');
  const caller = new MeshIdentity(callerMaterial);
  const cache = new EndpointCache({
    client: new ControlPlaneClient({ address: controlPlane.address, identity: caller }),
    logger: silentLogger(),
  });
  await cache.start();
  const mesh = new MeshClient({ identity: caller, cache, logger: silentLogger() });

  // Baseline: plain grpc-js mTLS with the same certificates to the same server and handler.
  const direct = directAgentClient(address, callerMaterial);
  const directCall = () => directEcho(direct, PAYLOAD);
  const meshCall = () => mesh.call({ type: 'echo' }, 'echo', PAYLOAD);

  try {
    for (let i = 0; i < 1_000; i += 1) {
      await directCall();
      await meshCall();
    }
    const [directThroughput, meshThroughput] = await alternating(directCall, meshCall);
    const latency = await fixedRate(directCall, meshCall);
    return {
      directCallsPerSecond: directThroughput,
      meshCallsPerSecond: meshThroughput,
      throughputRatio: meshThroughput / directThroughput,
      directP50Ms: latency.aP50,
      meshP50Ms: latency.bP50,
      p50Ratio: latency.bP50 / latency.aP50,
      directP99Ms: latency.aP99,
      meshP99Ms: latency.bP99,
      p99AddedMs: latency.p99Added,
      p99AddedMinMs: latency.p99AddedMin,
      p99AddedMaxMs: latency.p99AddedMax,
    };
  } finally {
    direct.close();
    mesh.close();
    cache.close();
    await agent.stop();
    await bench.close();
  }
}
