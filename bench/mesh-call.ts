/**
 * A 1 KB unary call through the mesh (mesh client, mTLS with SPIFFE checks, the agent's server pipeline) against
 * the pair a user would otherwise pick: a plain grpc-js `createSsl` mTLS client and server with the same handler and
 * certificates (the baseline), in one run:
 * - throughput, closed loop, 32 calls in flight, in alternating rounds (plain, mesh, direct-to-agent, plaintext,
 *   plain-lean, ...) so that all see the same machine, with the CPU µs per call of the client (this process) and of
 *   the server (its process); direct-to-agent (the plain client to the mesh agent) isolates the mesh client's cost,
 *   plaintext is the ceiling, and plain-lean is the plain pair with the grpc-js options the mesh sets on its own
 *   channels and servers (channelz off, `MESH_CHANNEL_OPTIONS` and `MESH_SERVER_OPTIONS`), which tells what those
 *   options are worth apart from the mesh's code;
 * - latency p50/p99 at a fixed rate of 1,000 calls/s each (AGENT_MESH_BENCH_RATE to change it), plain and mesh
 *   calls on alternate ticks, in 20 rounds of one second (1,000 calls each) (medians over the rounds; see fixedRate).
 * The agent (test/fixtures/agents/worker-agent.ts) and the plain servers (bench/plain-server.ts) run in child
 * processes, as they would in a deployment.
 */
import * as grpc from '@grpc/grpc-js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MESH_CHANNEL_OPTIONS } from '../src/transport/credentials.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import {
  BASELINE_CHANNEL_OPTIONS,
  alternating,
  directAgentClient,
  directEcho,
  fixedRate,
} from './baseline.js';
import { spawnEchoServers, startBenchMesh } from './setup.js';

type Figures = Record<string, number>;
const PAYLOAD = Buffer.alloc(1024, 7);

export async function benchMeshCall(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  // The agent and the plain servers run in processes of their own, as in a deployment: this process holds only
  // the clients (and the idle control plane).
  const servers = await spawnEchoServers(certsDir, controlPlane.address, { lean: true });
  const { agent, plain, plaintext } = servers;
  const plainLean = servers.plainLean!;
  const [agentAddress, plainAddress, plaintextAddress, plainLeanAddress] = (
    await Promise.all([agent.ready, plain.ready, plaintext.ready, plainLean.ready])
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
  const plainLeanClient = directAgentClient(plainLeanAddress!, callerMaterial, MESH_CHANNEL_OPTIONS);
  const directClient = directAgentClient(agentAddress!, callerMaterial);
  const { protos } = loadMeshProtos();
  const plaintextClient = new protos.agentmesh.v1.Agent(
    plaintextAddress!,
    grpc.credentials.createInsecure(),
    BASELINE_CHANNEL_OPTIONS,
  );
  const plainCall = () => directEcho(plainClient, PAYLOAD);
  const directCall = () => directEcho(directClient, PAYLOAD);
  const plaintextCall = () => directEcho(plaintextClient, PAYLOAD);
  const plainLeanCall = () => directEcho(plainLeanClient, PAYLOAD);
  const meshCall = () => mesh.call({ type: 'echo' }, 'echo', PAYLOAD);

  try {
    for (let i = 0; i < 1_000; i += 1) {
      for (const call of [plainCall, directCall, plaintextCall, plainLeanCall, meshCall]) await call();
    }
    const throughput = await alternating({
      plain: { call: plainCall, servers: [plain] },
      mesh: { call: meshCall, servers: [agent] },
      direct: { call: directCall, servers: [agent] },
      plaintext: { call: plaintextCall, servers: [plaintext] },
      plainLean: { call: plainLeanCall, servers: [plainLean] },
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
      directClientCpuUs: throughput.direct.clientCpuUsPerCall,
      directServerCpuUs: throughput.direct.serverCpuUsPerCall,
      plainLeanCallsPerSecond: throughput.plainLean.callsPerSecond,
      plainLeanCpuUsPerCall: throughput.plainLean.cpuUsPerCall,
      cpuRatioToLean: throughput.mesh.cpuUsPerCall / throughput.plainLean.cpuUsPerCall,
      throughputRatioToLean: throughput.mesh.callsPerSecond / throughput.plainLean.callsPerSecond,
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
    for (const client of [plainClient, directClient, plaintextClient, plainLeanClient]) client.close();
    mesh.close();
    cache.close();
    await Promise.all([agent.stop(), plain.stop(), plaintext.stop(), plainLean.stop()]);
    await bench.close();
  }
}
