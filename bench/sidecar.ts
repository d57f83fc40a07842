/**
 * The sidecar path: a 1 KB unary call from a mesh client through `agent-mesh sidecar` (mTLS, the agent's server
 * pipeline with its policy check) to a plaintext app on a Unix socket (in the sidecar's private socket directory),
 * against the pair a user would otherwise pick: a plain grpc-js `createSsl` mTLS client and server with the same
 * handler and certificates (bench/plain-server.ts, the baseline), in one run:
 * - throughput, closed loop, 32 calls in flight, in alternating rounds (plain, sidecar, plain client to the
 *   sidecar, mesh client to an agent, plaintext, TLS pipe, ...) so that all see the same machine, with the CPU µs
 *   per call of the client (this process) and of the serving side (the sidecar and the app, each reported); the
 *   plain client to the sidecar isolates the sidecar's cost from the mesh client's, the mesh client to an agent (no
 *   sidecar) is what the same client reaches without the extra hop, plaintext is the ceiling, the plain client
 *   through a TLS pipe to the same app (bench/tls-pipe.ts: mTLS terminated, bytes piped, nothing read) is the floor
 *   of any sidecar process (what the extra process and hop alone cost on this machine), and the plain client
 *   through a bare grpc-js forwarder (bench/grpc-forwarder.ts: no mesh code) is what grpc-js's server and client
 *   cost on that hop;
 * - latency p50/p99 at a fixed rate of 500 calls/s each, plain and sidecar calls on alternate ticks, in 20 rounds
 *   of one second (medians over the rounds; see fixedRate in baseline.ts).
 * The agent, the sidecar, the app and the plain servers each run in a child process, as they would in a deployment.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { EndpointCache } from '../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../src/data-plane/mesh-client.js';
import type { InvokeRequest__Output } from '../src/generated/agentmesh/v1/InvokeRequest.js';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import { HealthImplementation } from 'grpc-health-check';
import {
  BASELINE_CHANNEL_OPTIONS,
  alternating,
  directAgentClient,
  directEcho,
  fixedRate,
} from './baseline.js';
import { spawnBenchProcess, spawnEchoServers, startBenchMesh } from './setup.js';
import { moduleUrl } from '../test/helpers/module-url.js';

type Figures = Record<string, number>;
const PAYLOAD = Buffer.alloc(1024, 7);
/**
 * The fixed rate of each kind in the latency rounds (AGENT_MESH_BENCH_RATE to change it): half mesh-call's, since
 * three processes (client, sidecar, app) share this machine's two cores on every sidecar call.
 */
const RATE_PER_SECOND = Number(process.env.AGENT_MESH_BENCH_RATE ?? 500);
/** The flag with which this file runs as the plaintext echo app behind the sidecar (in its own process). */
const SERVE_APP = '--serve-echo-app';

export async function benchSidecar(): Promise<Figures> {
  const bench = await startBenchMesh();
  const { certsDir, controlPlane } = bench;
  await ensureIdentity(certsDir, 'sidecar-echo-1', { types: ['sidecar-echo'] });
  const { agent, plain, plaintext } = await spawnEchoServers(certsDir, controlPlane.address);
  // The app and the sidecar share a private directory, as the sidecar's default setup has them.
  const socketDir = join(certsDir, 'sockets');
  await mkdir(socketDir, { mode: 0o700 });
  const app = spawnBenchProcess(
    new URL(import.meta.url),
    [SERVE_APP, `unix:${socketDir}/app.sock`],
    /app listening on (\S+)/,
  );
  const processes = [agent, plain, plaintext, app];
  const callerMaterial = await ensureIdentity(certsDir, 'caller');
  const caller = new MeshIdentity(callerMaterial);
  const cache = new EndpointCache({
    client: new ControlPlaneClient({ address: controlPlane.address, identity: caller }),
    logger: silentLogger(),
  });
  const mesh = new MeshClient({ identity: caller, cache, logger: silentLogger() });
  const clients: grpc.Client[] = [];
  try {
    const [plainAddress, plaintextAddress, appAddress] = (
      await Promise.all([plain.ready, plaintext.ready, app.ready, agent.ready])
    ).map((match) => match[1]!);
    const sidecar = spawnBenchProcess(
      moduleUrl('../src/cli/main.ts', import.meta.url),
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
        appAddress!,
        '--socket-dir',
        socketDir,
        '--log-level',
        'warn',
      ],
      /outbound\s+unix:/,
    );
    processes.push(sidecar);
    const pipe = spawnBenchProcess(
      moduleUrl('./tls-pipe.ts', import.meta.url),
      [certsDir, 'sidecar-echo-1', appAddress!.slice('unix:'.length)],
      /ready (\S+)/,
    );
    const forwarder = spawnBenchProcess(
      moduleUrl('./grpc-forwarder.ts', import.meta.url),
      [certsDir, 'sidecar-echo-1', appAddress!],
      /ready (\S+)/,
    );
    processes.push(pipe, forwarder);
    const [, pipeReady, forwarderReady] = await Promise.all([sidecar.ready, pipe.ready, forwarder.ready]);
    await cache.start();
    const sidecarAddress = cache.select({ type: 'sidecar-echo' })[0]?.spec.endpoint;
    if (!sidecarAddress) throw new Error('the sidecar is not registered');
    // Baselines: a plain grpc-js mTLS client and server with the same certificates and handler, and plaintext (the
    // ceiling); beside the sidecar path, the same plain client to the sidecar, and the mesh client to an agent.
    const plainClient = directAgentClient(plainAddress!, callerMaterial);
    const toSidecarClient = directAgentClient(sidecarAddress, callerMaterial);
    const { protos } = loadMeshProtos();
    const plaintextClient = new protos.agentmesh.v1.Agent(
      plaintextAddress!,
      grpc.credentials.createInsecure(),
      BASELINE_CHANNEL_OPTIONS,
    );
    const pipeClient = directAgentClient(pipeReady[1]!, callerMaterial);
    const forwarderClient = directAgentClient(forwarderReady[1]!, callerMaterial);
    clients.push(plainClient, toSidecarClient, plaintextClient, pipeClient, forwarderClient);
    const plainCall = () => directEcho(plainClient, PAYLOAD);
    const sidecarCall = () => mesh.call({ type: 'sidecar-echo' }, 'echo', PAYLOAD);
    const toSidecarCall = () => directEcho(toSidecarClient, PAYLOAD);
    const meshCall = () => mesh.call({ type: 'echo' }, 'echo', PAYLOAD);
    const plaintextCall = () => directEcho(plaintextClient, PAYLOAD);
    const pipeCall = () => directEcho(pipeClient, PAYLOAD);
    const forwarderCall = () => directEcho(forwarderClient, PAYLOAD);
    for (let i = 0; i < 1_000; i += 1) {
      const calls = [plainCall, sidecarCall, toSidecarCall, meshCall, plaintextCall, pipeCall, forwarderCall];
      for (const call of calls) await call();
    }
    const throughput = await alternating({
      plain: { call: plainCall, servers: [plain] },
      sidecar: { call: sidecarCall, servers: [sidecar, app] },
      toSidecar: { call: toSidecarCall, servers: [sidecar, app] },
      mesh: { call: meshCall, servers: [agent] },
      plaintext: { call: plaintextCall, servers: [plaintext] },
      pipe: { call: pipeCall, servers: [pipe, app] },
      forwarder: { call: forwarderCall, servers: [forwarder, app] },
    });
    const latency = await fixedRate(plainCall, sidecarCall, {
      ratePerSecond: RATE_PER_SECOND,
      roundCalls: RATE_PER_SECOND,
    });
    const { plain: p, sidecar: s, toSidecar: t, pipe: f, forwarder: g } = throughput;
    return {
      plainCallsPerSecond: p.callsPerSecond,
      sidecarCallsPerSecond: s.callsPerSecond,
      throughputRatio: s.callsPerSecond / p.callsPerSecond,
      plainCpuUsPerCall: p.cpuUsPerCall,
      sidecarCpuUsPerCall: s.cpuUsPerCall,
      cpuRatio: s.cpuUsPerCall / p.cpuUsPerCall,
      plainClientCpuUs: p.clientCpuUsPerCall,
      sidecarClientCpuUs: s.clientCpuUsPerCall,
      plainServerCpuUs: p.serverCpuUsPerCall,
      // The serving side of the sidecar path: the sidecar and the app together, and each.
      sidecarServerCpuUs: s.serverCpuUsPerCall,
      sidecarProcessCpuUs: s.serversCpuUsPerCall[0]!,
      sidecarAppCpuUs: s.serversCpuUsPerCall[1]!,
      serverCpuRatio: s.serverCpuUsPerCall / p.serverCpuUsPerCall,
      plainClientToSidecarCallsPerSecond: t.callsPerSecond,
      plainClientToSidecarRatio: t.callsPerSecond / p.callsPerSecond,
      plainClientToSidecarCpuUsPerCall: t.cpuUsPerCall,
      plainClientToSidecarProcessCpuUs: t.serversCpuUsPerCall[0]!,
      meshToAgentCallsPerSecond: throughput.mesh.callsPerSecond,
      // The floor of any sidecar process (the plain client through a TLS pipe to the same app), and the sidecar
      // against it with the same client.
      pipeCallsPerSecond: f.callsPerSecond,
      pipeRatio: f.callsPerSecond / p.callsPerSecond,
      pipeProcessCpuUs: f.serversCpuUsPerCall[0]!,
      plainClientToSidecarAgainstPipe: t.callsPerSecond / f.callsPerSecond,
      // A bare grpc-js forwarder with the same client: what grpc-js costs on the hop, without the mesh's code.
      forwarderCallsPerSecond: g.callsPerSecond,
      forwarderRatio: g.callsPerSecond / p.callsPerSecond,
      forwarderProcessCpuUs: g.serversCpuUsPerCall[0]!,
      plainClientToSidecarAgainstForwarder: t.callsPerSecond / g.callsPerSecond,
      plaintextCallsPerSecond: throughput.plaintext.callsPerSecond,
      plainP50Ms: latency.aP50,
      sidecarP50Ms: latency.bP50,
      p50Ratio: latency.bP50 / latency.aP50,
      plainP99Ms: latency.aP99,
      sidecarP99Ms: latency.bP99,
      p99AddedMs: latency.p99Added,
      p99AddedMinMs: latency.p99AddedMin,
      p99AddedMaxMs: latency.p99AddedMax,
    };
  } finally {
    for (const client of clients) client.close();
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
