/**
 * Benchmarks: `npm run bench`. With `-- --json`, each scenario prints one JSON line as it completes
 * (`{"scenario": ..., "figures": {...}}`), so that a run stopped early keeps what it measured, and the last line
 * holds every result.
 *
 * Every figure is measured against a baseline in the same run on the same machine, never against a fixed number:
 * - mtls-unary: a 1 KB unary call to the same handler, over agent-mesh's mTLS (certificate providers plus the SPIFFE
 *   peer check on every call) and over plain grpc-js `createSsl` mTLS (the baseline): closed-loop throughput and
 *   sequential latency p50/p99, in alternating rounds.
 * - mesh-call: a 1 KB call through the mesh against a plain grpc-js mTLS client and server with the same handler,
 *   with CPU µs per call on both sides (see bench/mesh-call.ts).
 * - sidecar: a 1 KB call through the mesh client, `agent-mesh sidecar` and a plaintext app against a plain grpc-js
 *   mTLS client and server with the same handler, with CPU µs per call on both sides (see bench/sidecar.ts).
 * - scheduling: time to the first chunk of a streamed call through the mesh against direct grpc-js mTLS, and the
 *   queue wait of interactive against batch calls at an agent under 2x overload (see bench/scheduling.ts).
 * - pubsub: acknowledged deliveries per second from one publisher to 100 subscribers, lost events, and
 *   publish-to-handler latency at 1,000 events/s against a direct call (see bench/pubsub.ts).
 * - pubsub-durable: the same load on NATS JetStream through the mesh against a plain JetStream client on the same
 *   server (TLS and operator-mode auth for both), and against that client on the mesh's stream layout, with the
 *   brokerless figures beside them: deliveries/s, latency p50/p99 and CPU per delivery (see
 *   bench/pubsub-durable.ts). Needs `nats-server`.
 * - gateway: an MCP `tools/call` through `agent-mesh gateway` (Streamable HTTP, a bearer token) against the same
 *   skill called with `callTool`: latency p50/p99 and the p99 it adds, throughput (see bench/gateway.ts).
 * - ca: identities issued per second (key generation plus signing) and CSRs signed per second (signing only).
 * - control plane, per store: 10,000 agents; registrations/s, discovery against a full scan, change propagation to
 *   100 watchers, memory per agent (see bench/control-plane.ts). The etcd scenario runs when `etcd` is on PATH.
 * - registry: 100,000 agents (20,000 on etcd): a new agent's start against its start in an empty mesh, one change to
 *   1,000 scoped watchers, a heartbeat's round trip with and without them, heap per agent (see bench/registry-scale.ts).
 * - cp-faults: 100 agents registering again after their control plane returns (against their cold start), the
 *   bytes 100 watchers receive per load-changing heartbeat (against a record change), and a heartbeat flood's cost
 *   to the control plane's memory and to another agent's calls (see bench/control-plane-faults.ts).
 */
import { benchCli } from './cli.js';
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { CertificateAuthority, createCertificateRequest } from '../src/identity/certificate-authority.js';
import { generateRsaKeyPair } from '../src/identity/keys.js';
import { identitySpiffeId } from '../src/core/spiffe-id.js';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../src/transport/credentials.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../src/transport/protos.js';
import { startServer } from '../src/transport/server.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { EtcdStore } from '../src/control-plane/stores/etcd-store.js';
import { silentLogger } from '../src/observability/logger.js';
import { findOnPath } from '../test/helpers/system-binary.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { benchControlPlane } from './control-plane.js';
import { benchControlPlaneFaults } from './control-plane-faults.js';
import { benchMeshCall } from './mesh-call.js';
import { benchPubSub } from './pubsub.js';
import { benchPubSubDurable } from './pubsub-durable.js';
import { benchGateway } from './gateway.js';
import { benchRegistryScale } from './registry-scale.js';
import { benchScheduling } from './scheduling.js';
import { benchSidecar } from './sidecar.js';
import { BASELINE_CHANNEL_OPTIONS, closedLoop, percentile } from './baseline.js';

const json = process.argv.includes('--json');
/**
 * `--scenario <name>` runs one scenario: mtls, mesh-call, sidecar, scheduling, pubsub, pubsub-durable, gateway, cli, ca,
 * control-plane, registry or cp-faults.
 */
const only = process.argv.includes('--scenario')
  ? process.argv[process.argv.indexOf('--scenario') + 1]
  : undefined;
const wanted = (scenario: string) => only === undefined || only === scenario;
const THROUGHPUT_MS = 3_000;
/** Rounds of each kind, alternated, over which the throughput time and latency calls are spread. */
const ROUNDS = 6;
const CONCURRENCY = 32;
const LATENCY_CALLS = 3_000;
const PAYLOAD = Buffer.alloc(1024, 7);

type Figures = Record<string, number>;

function invoke(client: AgentClient): Promise<void> {
  return new Promise((resolve, reject) =>
    client.Invoke({ method: 'echo', payload: PAYLOAD, contentType: 'application/octet-stream' }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

/**
 * Throughput and latency of two clients of the same handler, measured in alternating rounds (direct, mesh, direct,
 * ...) so that a machine that gets busier or quieter during the run affects both alike.
 */
async function measureAlternating(clients: { direct: AgentClient; mesh: AgentClient }): Promise<{
  direct: Figures;
  mesh: Figures;
}> {
  for (const client of [clients.direct, clients.mesh]) {
    for (let i = 0; i < 500; i += 1) await invoke(client); // warm up connection and JIT
  }
  const calls = { direct: 0, mesh: 0 };
  const latencies: { direct: number[]; mesh: number[] } = { direct: [], mesh: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const kind of ['direct', 'mesh'] as const) {
      calls[kind] += await closedLoop(() => invoke(clients[kind]), THROUGHPUT_MS / ROUNDS, CONCURRENCY);
      for (let i = 0; i < LATENCY_CALLS / ROUNDS; i += 1) {
        const start = performance.now();
        await invoke(clients[kind]);
        latencies[kind].push(performance.now() - start);
      }
    }
  }
  const figures = (kind: 'direct' | 'mesh'): Figures => {
    const sorted = latencies[kind].sort((a, b) => a - b);
    return {
      callsPerSecond: Math.round((calls[kind] / THROUGHPUT_MS) * 1000),
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    };
  };
  return { direct: figures('direct'), mesh: figures('mesh') };
}

async function benchMtlsUnary(ca: CertificateAuthority): Promise<Figures> {
  const { protos } = loadMeshProtos();
  const echo = {
    Invoke: (
      call: grpc.ServerUnaryCall<{ payload: Buffer; contentType: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => callback(null, { payload: call.request.payload, contentType: call.request.contentType }),
  };
  const serverMaterial = await ca.issue('bench-server');
  const clientMaterial = await ca.issue('bench-client');
  const bundle = ca.trustBundle.pem;

  // Baseline: grpc-js mTLS with the same certificates, no agent-mesh code on the path.
  const direct = new grpc.Server();
  direct.addService(protos.agentmesh.v1.Agent.service, echo);
  const directPort = await new Promise<number>((resolve, reject) =>
    direct.bindAsync(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(
        Buffer.from(bundle),
        [
          {
            private_key: Buffer.from(serverMaterial.privateKeyPem),
            cert_chain: Buffer.from(serverMaterial.certificatePem),
          },
        ],
        true,
      ),
      (error, port) => (error ? reject(error) : resolve(port)),
    ),
  );
  const directClient = new protos.agentmesh.v1.Agent(
    `127.0.0.1:${directPort}`,
    grpc.credentials.createSsl(
      Buffer.from(bundle),
      Buffer.from(clientMaterial.privateKeyPem),
      Buffer.from(clientMaterial.certificatePem),
      { checkServerIdentity: () => undefined },
    ),
    BASELINE_CHANNEL_OPTIONS,
  );

  const serverIdentity = new MeshIdentity({ ...serverMaterial, trustBundlePem: bundle });
  const clientIdentity = new MeshIdentity({ ...clientMaterial, trustBundlePem: bundle });
  const mesh = await startServer({
    identity: serverIdentity,
    services: [
      { name: 'agentmesh.v1.Agent', definition: protos.agentmesh.v1.Agent.service, implementation: echo },
    ],
  });
  const meshClient = new protos.agentmesh.v1.Agent(
    mesh.address,
    createChannelCredentials(clientIdentity, serverIdentity.spiffeId.uri),
    MESH_CHANNEL_OPTIONS,
  );

  try {
    const { direct: baseline, mesh: ours } = await measureAlternating({
      direct: directClient,
      mesh: meshClient,
    });
    return {
      directCallsPerSecond: baseline.callsPerSecond!,
      meshCallsPerSecond: ours.callsPerSecond!,
      throughputRatio: ours.callsPerSecond! / baseline.callsPerSecond!,
      directP50Ms: baseline.p50Ms!,
      meshP50Ms: ours.p50Ms!,
      p50Ratio: ours.p50Ms! / baseline.p50Ms!,
      directP99Ms: baseline.p99Ms!,
      meshP99Ms: ours.p99Ms!,
      p99AddedMs: ours.p99Ms! - baseline.p99Ms!,
    };
  } finally {
    directClient.close();
    meshClient.close();
    direct.forceShutdown();
    await mesh.shutdown(0);
  }
}

async function benchCa(ca: CertificateAuthority): Promise<Figures> {
  const issues = 20;
  let start = performance.now();
  for (let i = 0; i < issues; i += 1) await ca.issue(`agent-${i}`);
  const issuePerSecond = issues / ((performance.now() - start) / 1000);

  const keys = await generateRsaKeyPair();
  const csr = createCertificateRequest(
    identitySpiffeId(ca.trustDomain, 'joiner'),
    keys.privateKeyPem,
    keys.publicKeyPem,
  );
  const signs = 50;
  start = performance.now();
  for (let i = 0; i < signs; i += 1) ca.signRequest(csr, 'joiner');
  const signPerSecond = signs / ((performance.now() - start) / 1000);
  return { issuedPerSecond: issuePerSecond, csrSignedPerSecond: signPerSecond };
}

const results: Record<string, Figures> = {};

/** Prints a scenario's figures (kept in `results`) at once: a JSON line with `--json`, else a titled table. */
function print(title: string, figures: Figures): void {
  const scenario = Object.keys(results).find((name) => results[name] === figures) ?? title;
  if (json) {
    console.log(JSON.stringify({ scenario, title, figures }));
    return;
  }
  console.log(`\n${title}`);
  for (const [key, value] of Object.entries(figures)) {
    console.log(`  ${key.padEnd(22)} ${Number.isInteger(value) ? value : value.toFixed(3)}`);
  }
}

const { ca } = await CertificateAuthority.create({ trustDomain: 'bench.local' });
if (wanted('mtls')) {
  results.mtlsUnary = await benchMtlsUnary(ca);
  print('mTLS unary call, 1 KB: agent-mesh credentials vs plain grpc-js mTLS (baseline)', results.mtlsUnary);
}
if (wanted('mesh-call')) {
  results.meshCall = await benchMeshCall();
  print(
    '1 KB unary call through the mesh vs a plain grpc-js mTLS client and server with the same handler (baseline)',
    results.meshCall,
  );
}
if (wanted('sidecar')) {
  results.sidecar = await benchSidecar();
  print(
    '1 KB unary call through the sidecar (mesh client, sidecar, plaintext app) vs a plain grpc-js mTLS client and server',
    results.sidecar,
  );
}
if (wanted('scheduling')) {
  results.scheduling = await benchScheduling();
  print(
    'streamed calls (time to first chunk: mesh vs direct mTLS) and 2x overload (interactive vs batch queue wait)',
    results.scheduling,
  );
}
if (wanted('pubsub')) {
  results.pubsub = await benchPubSub();
  print(
    'pub/sub, 1 KB events, 1 publisher, 100 subscribers (latency baseline: a direct mTLS call, round trip)',
    results.pubsub,
  );
}
if (wanted('pubsub-durable')) {
  results.pubsubDurable = await benchPubSubDurable();
  print(
    'durable pub/sub on NATS JetStream, 1 KB, 1 publisher, 100 subscribers: mesh vs a plain JetStream client (baseline), and brokerless',
    results.pubsubDurable,
  );
}
if (wanted('gateway')) {
  results.gateway = await benchGateway();
  print(
    'the gateway: MCP tools/call over Streamable HTTP vs callTool from a mesh client (baseline)',
    results.gateway,
  );
}
if (wanted('cli')) {
  results.cli = await benchCli();
  print(
    "the CLI's start-up: agent-mesh version and agents list vs node -e 0 (baseline), milliseconds",
    results.cli,
  );
}
if (wanted('ca')) {
  results.ca = await benchCa(ca);
  print('certificate authority (RSA 2048 leaves, node-forge signing)', results.ca);
}
if (wanted('control-plane')) {
  results.controlPlaneMemory = await benchControlPlane(async () => new MemoryStore());
  print(
    'control plane, memory store, 10,000 agents (discovery baseline: full scan)',
    results.controlPlaneMemory,
  );
  if (findOnPath('etcd')) {
    const etcd = await startEtcd();
    try {
      results.controlPlaneEtcd = await benchControlPlane(() =>
        EtcdStore.connect({ endpoints: [etcd.endpoint], logger: silentLogger() }),
      );
      print(
        'control plane, etcd store, 10,000 agents (heap: the registry view only; data lives in etcd)',
        results.controlPlaneEtcd,
      );
    } finally {
      await etcd.stop();
    }
  } else if (!json) {
    console.log('\n(etcd not on PATH: the etcd control-plane scenario is skipped; install etcd-server)');
  }
}
if (wanted('registry')) {
  results.registryMemory = await benchRegistryScale(async () => new MemoryStore(), 100_000);
  print(
    'registry, memory store, 100,000 agents (baselines: an empty mesh; no watchers)',
    results.registryMemory,
  );
  if (findOnPath('etcd')) {
    const etcd = await startEtcd();
    try {
      results.registryEtcd = await benchRegistryScale(
        () => EtcdStore.connect({ endpoints: [etcd.endpoint], logger: silentLogger() }),
        20_000,
      );
      print(
        'registry, etcd store, 20,000 agents (baselines: an empty mesh; no watchers)',
        results.registryEtcd,
      );
    } finally {
      await etcd.stop();
    }
  }
}
if (wanted('cp-faults')) {
  const faults = await benchControlPlaneFaults();
  Object.assign(results, faults);
  print(
    'control plane returning after 10 s away: 100 agents registered again (baseline: their cold start)',
    faults.controlPlaneRecovery!,
  );
  print(
    'bytes 100 watchers receive per heartbeat that changes a load (baseline: a change of the ~115 KiB record)',
    faults.watchBytes!,
  );
  print(
    'heartbeat flood by one identity (largest spec, alternating load): control-plane memory, another agent p50',
    faults.heartbeatFlood!,
  );
}
if (json) console.log(JSON.stringify(results));
