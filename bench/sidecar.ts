/**
 * The sidecar path: a 1 KB unary call from a mesh client through `agent-mesh sidecar` (mTLS, policy check) to a
 * plaintext app on a Unix socket (in the sidecar's private socket directory), against a direct grpc-js mTLS call to
 * an agent serving the same echo (the baseline), and beside it the mesh client calling that agent without a
 * sidecar, in one run:
 * - throughput, closed loop, 32 calls in flight, in alternating rounds (direct, mesh, sidecar, direct, ...);
 * - sequential latency p50/p99, the three kinds of call interleaved one by one.
 * The agent, the sidecar and the app each run in a child process, as they would in a deployment.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import type { InvokeRequest__Output } from '../src/generated/agentmesh/v1/InvokeRequest.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import { HealthImplementation } from 'grpc-health-check';
import { closedLoop, directAgentClient, directEcho, percentile } from './baseline.js';
import { spawnBenchProcess, startBenchMesh } from './setup.js';

type Figures = Record<string, number>;
const PAYLOAD = Buffer.alloc(1024, 7);
const THROUGHPUT_MS = 3_000;
const ROUNDS = 6;
const CONCURRENCY = 32;
const LATENCY_CALLS = 2_000;
/** The flag with which this file runs as the plaintext echo app behind the sidecar (in its own process). */
const SERVE_APP = '--serve-echo-app';

export async function benchSidecar(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  await ensureIdentity(certsDir, 'echo-1', { types: ['echo'] });
  await ensureIdentity(certsDir, 'sidecar-echo-1', { types: ['sidecar-echo'] });
  const agent = spawnBenchProcess(
    new URL('../test/fixtures/agents/worker-agent.ts', import.meta.url),
    [certsDir, controlPlane.address, 'echo-1', 'echo'],
    /ready (\S+)/,
  );
  // The app and the sidecar share a private directory, as the sidecar's default setup has them.
  const socketDir = join(certsDir, 'sockets');
  await mkdir(socketDir, { mode: 0o700 });
  const app = spawnBenchProcess(
    new URL(import.meta.url),
    [SERVE_APP, `unix:${socketDir}/app.sock`],
    /app listening on (\S+)/,
  );
  const processes = [agent, app];
  const callerMaterial = await ensureIdentity(certsDir, 'caller');
  const caller = new MeshIdentity(callerMaterial);
  const cache = new EndpointCache({
    client: new ControlPlaneClient({ address: controlPlane.address, identity: caller }),
    logger: silentLogger(),
  });
  const mesh = new MeshClient({ identity: caller, cache, logger: silentLogger() });
  const agentAddress = (await agent.ready)[1]!;
  const direct = directAgentClient(agentAddress, callerMaterial);
  try {
    const appAddress = (await app.ready)[1]!;
    const sidecar = spawnBenchProcess(
      new URL('../src/cli/main.ts', import.meta.url),
      [
        'sidecar',
        '--certs',
        certsDir,
        '--control-plane',
        controlPlane.address,
        '--name',
        'sidecar-echo-1',
        '--type',
        'sidecar-echo',
        '--app',
        appAddress,
        '--socket-dir',
        socketDir,
        '--log-level',
        'warn',
      ],
      /outbound\s+unix:/,
    );
    processes.push(sidecar);
    await sidecar.ready;
    await cache.start();
    const directCall = () => directEcho(direct, PAYLOAD);
    const meshCall = () => mesh.call({ type: 'echo' }, 'echo', PAYLOAD);
    const sidecarCall = () => mesh.call({ type: 'sidecar-echo' }, 'echo', PAYLOAD);
    for (let i = 0; i < 1_000; i += 1) {
      await directCall();
      await meshCall();
      await sidecarCall();
    }
    const kinds = [directCall, meshCall, sidecarCall];
    const calls = [0, 0, 0];
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [i, call] of kinds.entries())
        calls[i]! += await closedLoop(call, THROUGHPUT_MS / ROUNDS, CONCURRENCY);
    }
    const [directThroughput, meshThroughput, sidecarThroughput] = calls.map((n) =>
      Math.round((n / THROUGHPUT_MS) * 1000),
    ) as [number, number, number];
    const latencies: number[][] = [[], [], []];
    for (let i = 0; i < LATENCY_CALLS; i += 1) {
      for (const [k, call] of kinds.entries()) {
        const start = performance.now();
        await call();
        latencies[k]!.push(performance.now() - start);
      }
    }
    const [directTail, meshTail, sidecarTail] = latencies.map((values) => {
      values.sort((x, y) => x - y);
      return { p50: percentile(values, 50), p99: percentile(values, 99) };
    }) as [{ p50: number; p99: number }, { p50: number; p99: number }, { p50: number; p99: number }];
    return {
      directCallsPerSecond: directThroughput,
      meshCallsPerSecond: meshThroughput,
      sidecarCallsPerSecond: sidecarThroughput,
      sidecarThroughputRatio: sidecarThroughput / directThroughput,
      directP50Ms: directTail.p50,
      meshP50Ms: meshTail.p50,
      sidecarP50Ms: sidecarTail.p50,
      directP99Ms: directTail.p99,
      meshP99Ms: meshTail.p99,
      sidecarP99Ms: sidecarTail.p99,
    };
  } finally {
    direct.close();
    mesh.close();
    cache.close();
    for (const running of processes.reverse()) await running.stop();
    await bench.close();
  }
}

/** The app behind the sidecar: plaintext `agentmesh.v1.Agent` echo and `grpc.health.v1` on `address`. */
async function serveEchoApp(address: string): Promise<void> {
  const { protos } = loadMeshProtos();
  const server = new grpc.Server();
  server.addService(protos.agentmesh.v1.Agent.service, {
    Invoke: (
      call: grpc.ServerUnaryCall<InvokeRequest__Output, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => callback(null, { payload: call.request.payload, contentType: call.request.contentType }),
  });
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
  console.log(`app listening on ${address.startsWith('unix:') ? address : `127.0.0.1:${port}`}`);
}

if (process.argv.includes(SERVE_APP)) await serveEchoApp(process.argv[process.argv.indexOf(SERVE_APP) + 1]!);
