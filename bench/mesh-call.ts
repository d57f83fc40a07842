/**
 * A 1 KB unary call through the mesh (mesh client, mTLS with SPIFFE checks, the agent's server pipeline) against
 * the pair a user would otherwise pick: a plain grpc-js `createSsl` mTLS client and server with the same handler and
 * certificates (the baseline), in one run:
 * - throughput, closed loop, 32 calls in flight, in alternating rounds (plain, mesh, direct-to-agent, plaintext,
 *   ...) so that all see the same machine, with the CPU µs per call of the client (this process) and of the server
 *   (its process); direct-to-agent (the plain client to the mesh agent) isolates the mesh client's cost, plaintext
 *   is the ceiling;
 * - latency p50/p99 at a fixed rate of 1,000 calls/s each (AGENT_MESH_BENCH_RATE to change it), plain and mesh
 *   calls on alternate ticks, in 20 rounds of one second (1,000 calls each) (medians over the rounds; see fixedRate).
 * The agent (test/fixtures/agents/worker-agent.ts) and the plain servers (bench/plain-server.ts) run in child
 * processes, as they would in a deployment.
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MESH_CHANNEL_OPTIONS } from '../src/transport/credentials.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import { closedLoop, directAgentClient, directEcho, median, percentile } from './baseline.js';
import { spawnBenchProcess, startBenchMesh, type BenchProcess } from './setup.js';

type Figures = Record<string, number>;
const PAYLOAD = Buffer.alloc(1024, 7);
const THROUGHPUT_MS = 3_000;
const CONCURRENCY = 32;
const RATE_PER_SECOND = Number(process.env.AGENT_MESH_BENCH_RATE ?? 1_000);
const ROUNDS = 20;
const ROUND_CALLS = 1_000;

/** One kind of call in the throughput rounds: how to make it, and the process that serves it. */
interface Kind {
  call: () => Promise<unknown>;
  server: BenchProcess;
}

/** What a kind measured: calls per second, and CPU µs per call in the client, in the server and both. */
interface Throughput {
  callsPerSecond: number;
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: number;
  cpuUsPerCall: number;
}

/**
 * Closed-loop throughput of each kind, in alternating rounds (one of each kind per round) so that all see the same
 * machine, with the CPU time each round cost this process (the client) and the kind's server process.
 */
async function alternating<K extends string>(kinds: Record<K, Kind>): Promise<Record<K, Throughput>> {
  const rounds = 6;
  const names = Object.keys(kinds) as K[];
  const totals = Object.fromEntries(
    names.map((name) => [name, { calls: 0, client: 0, server: 0 }]),
  ) as Record<K, { calls: number; client: number; server: number }>;
  for (let round = 0; round < rounds; round += 1) {
    for (const name of names) {
      const { call, server } = kinds[name];
      const serverBefore = await server.cpu();
      const clientBefore = process.cpuUsage();
      totals[name].calls += await closedLoop(call, THROUGHPUT_MS / rounds, CONCURRENCY);
      const client = process.cpuUsage(clientBefore);
      totals[name].client += client.user + client.system;
      totals[name].server += (await server.cpu()) - serverBefore;
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const { calls, client, server } = totals[name];
      return [
        name,
        {
          callsPerSecond: Math.round((calls / THROUGHPUT_MS) * 1000),
          clientCpuUsPerCall: client / calls,
          serverCpuUsPerCall: server / calls,
          cpuUsPerCall: (client + server) / calls,
        },
      ];
    }),
  ) as Record<K, Throughput>;
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
  // The agent and the plain servers run in processes of their own, as in a deployment: this process holds only
  // the clients (and the idle control plane).
  await ensureIdentity(certsDir, 'echo-1', { types: ['echo'] });
  await ensureIdentity(certsDir, 'plain-server');
  const agent = spawnBenchProcess(
    new URL('../test/fixtures/agents/worker-agent.ts', import.meta.url),
    [certsDir, controlPlane.address, 'echo-1', 'echo'],
    /ready (\S+)/,
  );
  const plain = spawnBenchProcess(
    new URL('./plain-server.ts', import.meta.url),
    [certsDir, 'plain-server', 'mtls'],
    /ready (\S+)/,
  );
  const plaintext = spawnBenchProcess(
    new URL('./plain-server.ts', import.meta.url),
    [certsDir, 'plain-server', 'plaintext'],
    /ready (\S+)/,
  );
  const [agentAddress, plainAddress, plaintextAddress] = (
    await Promise.all([agent.ready, plain.ready, plaintext.ready])
  ).map((match) => match[1]!);

  const callerMaterial = await ensureIdentity(certsDir, 'caller');
  const caller = new MeshIdentity(callerMaterial);
  const cache = new EndpointCache({
    client: new ControlPlaneClient({ address: controlPlane.address, identity: caller }),
    logger: silentLogger(),
  });
  await cache.start();
  const mesh = new MeshClient({ identity: caller, cache, logger: silentLogger() });

  // Baselines: a plain grpc-js mTLS client and server with the same certificates and handler; the same client to
  // the mesh agent (the mesh client's own cost); plaintext (the ceiling).
  const plainClient = directAgentClient(plainAddress!, callerMaterial);
  const directClient = directAgentClient(agentAddress!, callerMaterial);
  const { protos } = loadMeshProtos();
  const plaintextClient = new protos.agentmesh.v1.Agent(
    plaintextAddress!,
    grpc.credentials.createInsecure(),
    MESH_CHANNEL_OPTIONS,
  );
  const plainCall = () => directEcho(plainClient, PAYLOAD);
  const directCall = () => directEcho(directClient, PAYLOAD);
  const plaintextCall = () => directEcho(plaintextClient, PAYLOAD);
  const meshCall = () => mesh.call({ type: 'echo' }, 'echo', PAYLOAD);

  try {
    for (let i = 0; i < 1_000; i += 1) {
      for (const call of [plainCall, directCall, plaintextCall, meshCall]) await call();
    }
    const throughput = await alternating({
      plain: { call: plainCall, server: plain },
      mesh: { call: meshCall, server: agent },
      direct: { call: directCall, server: agent },
      plaintext: { call: plaintextCall, server: plaintext },
    });
    const latency = await fixedRate(plainCall, meshCall);
    return {
      plainCallsPerSecond: throughput.plain.callsPerSecond,
      meshCallsPerSecond: throughput.mesh.callsPerSecond,
      throughputRatio: throughput.mesh.callsPerSecond / throughput.plain.callsPerSecond,
      plainCpuUsPerCall: throughput.plain.cpuUsPerCall,
      meshCpuUsPerCall: throughput.mesh.cpuUsPerCall,
      cpuRatio: throughput.mesh.cpuUsPerCall / throughput.plain.cpuUsPerCall,
      plainClientCpuUs: throughput.plain.clientCpuUsPerCall,
      meshClientCpuUs: throughput.mesh.clientCpuUsPerCall,
      plainServerCpuUs: throughput.plain.serverCpuUsPerCall,
      meshServerCpuUs: throughput.mesh.serverCpuUsPerCall,
      serverCpuRatio: throughput.mesh.serverCpuUsPerCall / throughput.plain.serverCpuUsPerCall,
      directToAgentCallsPerSecond: throughput.direct.callsPerSecond,
      plaintextCallsPerSecond: throughput.plaintext.callsPerSecond,
      plainP50Ms: latency.aP50,
      meshP50Ms: latency.bP50,
      p50Ratio: latency.bP50 / latency.aP50,
      plainP99Ms: latency.aP99,
      meshP99Ms: latency.bP99,
      p99AddedMs: latency.p99Added,
      p99AddedMinMs: latency.p99AddedMin,
      p99AddedMaxMs: latency.p99AddedMax,
    };
  } finally {
    for (const client of [plainClient, directClient, plaintextClient]) client.close();
    mesh.close();
    cache.close();
    await Promise.all([agent.stop(), plain.stop(), plaintext.stop()]);
    await bench.close();
  }
}
