/**
 * What a control plane's faults and a misbehaving client cost (`--scenario cp-faults`), each against a baseline in
 * the same run:
 * - recovery: 100 agents (in this process) lose their in-memory control plane for 10 s; the time from its return
 *   on the same port, empty, until all 100 are registered again, against the time the same 100 took to start and
 *   register in the first place;
 * - watch bytes: what 100 watchers receive for one heartbeat that changes an agent's load (a small load message),
 *   against what they receive for a change of its record (what every such heartbeat sent before), for the largest
 *   record the spec limit accepts;
 * - flood: a control plane in its own process while one identity registers the largest spec and sends heartbeats
 *   with alternating load as fast as it can (AGENT_MESH_BENCH_FLOOD_MS, default 2 minutes): its memory before and
 *   after, and another agent's control-plane call p50 during the flood against before it.
 */
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { startControlPlane, type RunningControlPlane } from '../src/control-plane/control-plane.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { MeshError, codeName } from '../src/core/errors.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { identitySpiffeId, CONTROL_PLANE_NAME } from '../src/core/spiffe-id.js';
import { silentLogger } from '../src/observability/logger.js';
import { CONTROL_PLANE_CHANNEL_OPTIONS, createChannelCredentials } from '../src/transport/credentials.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { freePort } from '../test/helpers/ports.js';
import { residentBytes, startControlPlaneProcess } from '../test/helpers/processes.js';
import { largestSkills } from '../test/helpers/specs.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { until } from '../test/helpers/until.js';
import { percentile } from './baseline.js';

type Figures = Record<string, number>;

const AGENTS = 100;
const WATCHERS = 100;
const OUTAGE_MS = 10_000;

export async function benchControlPlaneFaults(): Promise<Record<string, Figures>> {
  const temp = await makeTempDir('agent-mesh-bench-faults-');
  try {
    await ensureCaDir(temp.dir, 'bench.local');
    await ensureIdentity(temp.dir, 'control-plane');
    return {
      controlPlaneRecovery: await benchRecovery(temp.dir),
      watchBytes: await benchWatchBytes(temp.dir),
      heartbeatFlood: await benchFlood(temp.dir),
    };
  } finally {
    await temp.remove();
  }
}

async function startMemoryControlPlane(certsDir: string, listen: string): Promise<RunningControlPlane> {
  return startControlPlane({
    certsDir,
    listen,
    store: new MemoryStore(),
    logger: silentLogger(),
    healthChecks: false,
  });
}

async function benchRecovery(certsDir: string): Promise<Figures> {
  const listen = `127.0.0.1:${await freePort()}`;
  let controlPlane = await startMemoryControlPlane(certsDir, listen);
  const identities = await Promise.all(
    Array.from(
      { length: AGENTS },
      async (_, i) =>
        new MeshIdentity(await ensureIdentity(certsDir, `recovering-${i}`, { types: ['recovering'] })),
    ),
  );
  const agents: RunningAgent[] = [];
  const observer = new ControlPlaneClient({
    address: listen,
    identity: new MeshIdentity(await ensureIdentity(certsDir, 'observer')),
  });
  const allListed = async () =>
    (await observer.discover({ type: 'recovering' }).catch(() => ({ agents: [] }))).agents.length === AGENTS;
  try {
    const coldStart = performance.now();
    agents.push(
      ...(await Promise.all(
        identities.map((identity) => startAgent({ identity, controlPlane: listen, type: 'recovering' })),
      )),
    );
    await until(allListed, 'all 100 agents are listed', 120_000);
    const coldStartMs = performance.now() - coldStart;

    await controlPlane.close(0);
    await sleep(OUTAGE_MS); // the outage itself
    controlPlane = await startMemoryControlPlane(certsDir, listen);
    const returned = performance.now();
    await until(allListed, 'all 100 agents are listed', 120_000);
    const reregisteredMs = performance.now() - returned;
    return { agents: AGENTS, coldStartMs, reregisteredMs, outageMs: OUTAGE_MS };
  } finally {
    observer.close();
    await Promise.all(agents.map((agent) => agent.drain(1_000)));
    await controlPlane.close(0);
  }
}

async function benchWatchBytes(certsDir: string): Promise<Figures> {
  const controlPlane = await startMemoryControlPlane(certsDir, '127.0.0.1:0');
  const identity = new MeshIdentity(await ensureIdentity(certsDir, 'bytes-watcher'));
  const credentials = createChannelCredentials(
    identity,
    identitySpiffeId(identity.spiffeId.trustDomain, CONTROL_PLANE_NAME).uri,
  );
  // Raw streams: every message arrives as the bytes that crossed the wire.
  const raw = new grpc.Client(controlPlane.address, credentials, CONTROL_PLANE_CHANNEL_OPTIONS);
  const subject = new ControlPlaneClient({
    address: controlPlane.address,
    identity: new MeshIdentity(await ensureIdentity(certsDir, 'subject', { types: ['subject'] })),
  });
  let bytes = 0;
  let messages = 0;
  const streams: grpc.ClientReadableStream<Buffer>[] = [];
  try {
    for (let i = 0; i < WATCHERS; i += 1) {
      const stream = raw.makeServerStreamRequest(
        '/agentmesh.v1.ControlPlane/Watch',
        () => Buffer.alloc(0), // since_revision 0: a snapshot first
        (buffer: Buffer) => buffer,
        {},
      );
      stream.on('data', (message: Buffer) => {
        bytes += message.length;
        messages += 1;
      });
      stream.on('error', () => undefined);
      streams.push(stream);
    }
    await until(() => messages >= WATCHERS, 'every snapshot arrived', 120_000);
    const received = async (change: () => Promise<unknown>) => {
      const [startBytes, startMessages] = [bytes, messages];
      await change();
      await until(() => messages >= startMessages + WATCHERS, 'every watcher heard the change', 120_000);
      return bytes - startBytes;
    };
    const spec = { type: 'subject', name: 'subject', endpoint: '127.0.0.1:9', skills: largestSkills() };
    const recordBytes = await received(() => subject.register(spec, 60_000));
    const heartbeats = 10;
    let loadBytes = 0;
    for (let i = 1; i <= heartbeats; i += 1) {
      loadBytes += await received(() => subject.heartbeat('subject', { inFlight: i, queueDepth: 0 }));
    }
    return {
      watchers: WATCHERS,
      recordChangeBytesTo100Watchers: recordBytes,
      loadHeartbeatBytesTo100Watchers: Math.round(loadBytes / heartbeats),
      recordOverLoadBytes: Math.round(recordBytes / (loadBytes / heartbeats)),
    };
  } finally {
    for (const stream of streams) stream.cancel();
    raw.close();
    subject.close();
    await controlPlane.close(0);
  }
}

async function benchFlood(certsDir: string): Promise<Figures> {
  const floodMs = Number(process.env.AGENT_MESH_BENCH_FLOOD_MS ?? 120_000);
  const listen = `127.0.0.1:${await freePort()}`;
  const controlPlane = await startControlPlaneProcess({ certsDir, listen, logLevel: 'warn' });
  const flooder = new ControlPlaneClient({
    address: listen,
    identity: new MeshIdentity(await ensureIdentity(certsDir, 'flooder', { types: ['flooder'] })),
  });
  const bystander = new ControlPlaneClient({
    address: listen,
    identity: new MeshIdentity(await ensureIdentity(certsDir, 'bystander', { types: ['bystander'] })),
  });
  // A watcher that reads everything, as every agent does.
  let watched = 0;
  const watch = bystander.watch(0, (message) => (watched += JSON.stringify(message).length));
  try {
    // A lease longer than the benchmark: the bystander only reads.
    await bystander.register({ type: 'bystander', name: 'bystander', endpoint: '127.0.0.1:9' }, 300_000);
    const p50 = async (count: number) => {
      const samples: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const start = performance.now();
        await bystander.getAgent('bystander');
        samples.push(performance.now() - start);
        await sleep(5);
      }
      return percentile(
        samples.sort((a, b) => a - b),
        50,
      );
    };
    for (let i = 0; i < 200; i += 1) await bystander.getAgent('bystander'); // warm up
    const before = await p50(200);
    const rssStart = residentBytes(controlPlane.pid);
    await flooder.register({
      type: 'flooder',
      name: 'flooder',
      endpoint: '127.0.0.1:9',
      skills: largestSkills(),
    });
    const watchedBefore = watched;
    let sent = 0;
    let accepted = 0;
    let stop = false;
    const refusals = new Map<string, number>();
    const flood = (async () => {
      while (!stop) {
        sent += 1;
        await flooder.heartbeat('flooder', { inFlight: sent % 2, queueDepth: 0 }).then(
          () => (accepted += 1),
          (error: unknown) => {
            const code = codeName(MeshError.from(error).code);
            refusals.set(code, (refusals.get(code) ?? 0) + 1);
          },
        );
        // A call that fails without leaving the process (a channel waiting to reconnect) settles within the same
        // turn: yield, or this loop alone would keep the measuring loop's timers from ever running.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const during: number[] = [];
    const end = Date.now() + floodMs;
    while (Date.now() < end) {
      during.push(await p50(50));
      if (process.env.AGENT_MESH_BENCH_DEBUG) {
        const rss = Math.round(residentBytes(controlPlane.pid) / 2 ** 20);
        console.error(`flood: ${sent} sent, ${accepted} accepted, control plane ${rss} MB`, refusals);
      }
    }
    stop = true;
    await flood;
    const rssEnd = residentBytes(controlPlane.pid);
    const duringP50 = percentile(
      during.sort((a, b) => a - b),
      50,
    );
    return {
      floodSeconds: floodMs / 1000,
      heartbeatsSent: sent,
      heartbeatsAccepted: accepted,
      heartbeatsRateLimited: refusals.get('RESOURCE_EXHAUSTED') ?? 0,
      heartbeatsFailedOtherwise: sent - accepted - (refusals.get('RESOURCE_EXHAUSTED') ?? 0),
      controlPlaneRssStartMb: rssStart / 2 ** 20,
      controlPlaneRssEndMb: rssEnd / 2 ** 20,
      controlPlaneRssGrowthMb: (rssEnd - rssStart) / 2 ** 20,
      watcherReceivedKb: (watched - watchedBefore) / 1024,
      bystanderP50BeforeMs: before,
      bystanderP50DuringMs: duringP50,
      bystanderP50Ratio: duringP50 / before,
    };
  } finally {
    watch.cancel();
    flooder.close();
    bystander.close();
    await controlPlane.stop('SIGINT');
  }
}
