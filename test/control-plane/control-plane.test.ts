import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlPlaneClient,
  joinMesh,
  renewIdentity,
  type WatchMessage,
} from '../../src/control-plane/client.js';
import type { Store } from '../../src/control-plane/store.js';
import { EtcdStore } from '../../src/control-plane/stores/etcd-store.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { createCertificateRequest } from '../../src/identity/certificate-authority.js';
import { loadCaDir, loadTrustBundle } from '../../src/identity/certs-dir.js';
import { generateRsaKeyPair } from '../../src/identity/keys.js';
import { identitySpiffeId } from '../../src/core/spiffe-id.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { agentClient, invoke } from '../helpers/agent-echo.js';
import { etcdBinary, startEtcd, type EtcdProcess } from '../helpers/etcd.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { createChannelCredentials } from '../../src/transport/credentials.js';

async function expectMeshError(promise: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as MeshError | undefined;
  expect(error, 'the call should have failed').toBeDefined();
  expect(error!.code, error!.message).toBe(code);
  if (message) expect(error!.message).toMatch(message);
}

/** The types this file's agents register as: their identities are entitled to both. */
const AGENT_TYPES = ['summarizer', 'translator'];

const spec = (name: string, endpoint: string, extra: Record<string, unknown> = {}) => ({
  type: 'summarizer',
  name,
  endpoint,
  capabilities: ['summarize'],
  labels: { zone: 'eu-1' },
  ...extra,
});

let etcd: EtcdProcess | undefined;
const stores: Array<[string, () => Promise<Store>]> = [['memory', async () => new MemoryStore()]];
if (etcdBinary) {
  stores.push(['etcd', () => EtcdStore.connect({ endpoints: [etcd!.endpoint], logger: silentLogger() })]);
}

beforeAll(async () => {
  if (etcdBinary) etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

describe.each(stores)('control plane on the %s store', (kind, makeStore) => {
  let mesh: TestMesh;
  let watcherClient: ControlPlaneClient;
  const messages = collector<WatchMessage>();
  let watch: { cancel(): void };

  beforeAll(async () => {
    mesh = await startTestMesh({
      store: makeStore,
      leases: { minTtlMs: 1_000 },
      healthChecks: {
        intervalMs: 100,
        timeoutMs: 10_000, // a bound: probes here fail by answer or refusal, never by timeout
        failureThreshold: 2,
        successThreshold: 1,
        holdDownMs: 0,
      },
    });
    watcherClient = await mesh.client('watcher');
    watch = watcherClient.watch(0, (message) => messages.push(message));
    await messages.next((m) => m.kind === 'snapshot');
  });

  afterAll(async () => {
    watch?.cancel();
    await mesh?.close();
  });

  it('registers an agent and discovers it by type, capability and label selector', async () => {
    const a = await mesh.agentServer(`${kind}-sum-1`);
    const b = await mesh.agentServer(`${kind}-tr-1`);
    const clientA = await mesh.client(`${kind}-sum-1`, AGENT_TYPES);
    const clientB = await mesh.client(`${kind}-tr-1`, AGENT_TYPES);
    const registered = await clientA.register(
      spec(`${kind}-sum-1`, a.server.address, { labels: { zone: 'eu-1', model: 'large' } }),
      10_000,
    );
    expect(registered.record.spiffeId).toBe(`spiffe://agentmesh.local/agent/${kind}-sum-1`);
    expect(registered.record.health).toBe('healthy');
    await clientB.register(
      spec(`${kind}-tr-1`, b.server.address, {
        type: 'translator',
        capabilities: ['translate', 'translate:fr'],
        labels: { zone: 'us-1' },
      }),
      10_000,
    );
    await messages.next((m) => m.kind === 'agent' && m.record.id === `${kind}-tr-1`);

    const ids = async (request: Parameters<ControlPlaneClient['discover']>[0]) =>
      (await watcherClient.discover(request)).agents
        .map((agent) => agent.id)
        .filter((id) => id.startsWith(kind));
    expect(await ids({ type: 'summarizer' })).toEqual([`${kind}-sum-1`]);
    expect(await ids({ capabilities: ['translate', 'translate:fr'] })).toEqual([`${kind}-tr-1`]);
    expect(await ids({ capabilities: ['translate', 'summarize'] })).toEqual([]);
    expect(await ids({ labelSelector: 'zone in (eu-1,us-1)' })).toEqual([`${kind}-sum-1`, `${kind}-tr-1`]);
    expect(await ids({ labelSelector: 'zone=eu-1,model' })).toEqual([`${kind}-sum-1`]);
    expect(await ids({ labelSelector: '!model' })).toEqual([`${kind}-tr-1`]);
    expect(await ids({ type: 'translator', labelSelector: 'zone!=us-1' })).toEqual([]);
    const fetched = await watcherClient.getAgent(`${kind}-tr-1`);
    expect(fetched.spec.capabilities).toEqual(['translate', 'translate:fr']);
    await clientA.deregister(`${kind}-sum-1`);
    await clientB.deregister(`${kind}-tr-1`);
  });

  it('removes an agent whose heartbeats stop, and watchers hear it', async () => {
    const name = `${kind}-mortal`;
    const agent = await mesh.agentServer(name);
    const client = await mesh.client(name, AGENT_TYPES);
    const { record } = await client.register(spec(name, agent.server.address), 1_000);
    expect(await client.heartbeat(name, { inFlight: 3, queueDepth: 1 })).toBeGreaterThan(Date.now());
    const loadSeen = await messages.next(
      (m) => m.kind === 'agent' && m.record.id === name && m.record.load.inFlight === 3,
    );
    expect(loadSeen.kind === 'agent' && loadSeen.record.load.queueDepth).toBe(1);
    const gone = await messages.next(
      (m) => m.kind === 'agent' && m.type === 'delete' && m.record.id === name,
      15_000,
    );
    expect(gone.revision).toBeGreaterThan(record.revision);
    if (kind === 'memory') expect(gone.kind === 'agent' && gone.reason).toBe('lease expired');
    await expectMeshError(watcherClient.getAgent(name), Code.NOT_FOUND);
    await expectMeshError(client.heartbeat(name), Code.NOT_FOUND, /register first|register again/);
  });

  it('marks an agent that fails health checks unhealthy, keeps it, and restores it when it passes', async () => {
    const name = `${kind}-flaky`;
    const agent = await mesh.agentServer(name);
    const client = await mesh.client(name, AGENT_TYPES);
    await client.register(spec(name, agent.server.address), 30_000);
    agent.health.setStatus('', 'NOT_SERVING');
    await messages.next((m) => m.kind === 'agent' && m.record.id === name && m.record.health === 'unhealthy');
    expect((await watcherClient.discover({ type: 'summarizer' })).agents.map((a) => a.id)).not.toContain(
      name,
    );
    expect(
      (await watcherClient.discover({ type: 'summarizer', includeUnhealthy: true })).agents.map((a) => a.id),
    ).toContain(name);
    agent.health.setStatus('', 'SERVING');
    await messages.next(
      (m) =>
        m.kind === 'agent' &&
        m.record.id === name &&
        m.record.health === 'healthy' &&
        m.reason === 'health checks passing',
    );
    await client.deregister(name);
  });

  it('lets an agent drain: not discovered, still registered', async () => {
    const name = `${kind}-leaving`;
    const agent = await mesh.agentServer(name);
    const client = await mesh.client(name, AGENT_TYPES);
    await client.register(spec(name, agent.server.address), 30_000);
    await client.heartbeat(name, { inFlight: 1, queueDepth: 0 }, true);
    await messages.next((m) => m.kind === 'agent' && m.record.id === name && m.record.health === 'draining');
    expect((await watcherClient.discover({ type: 'summarizer' })).agents.map((a) => a.id)).not.toContain(
      name,
    );
    expect((await watcherClient.getAgent(name)).health).toBe('draining');
    await client.deregister(name);
    await messages.next(
      (m) => m.kind === 'agent' && m.type === 'delete' && m.record.id === name && m.reason !== '',
    );
  });

  it('refuses to let an agent register, renew or deregister as someone else', async () => {
    const honest = await mesh.client(`${kind}-honest`, AGENT_TYPES);
    const agent = await mesh.agentServer(`${kind}-honest`);
    await honest.register(spec(`${kind}-honest`, agent.server.address), 30_000);
    const mallory = await mesh.client(`${kind}-mallory`, AGENT_TYPES);
    await expectMeshError(
      mallory.register(spec(`${kind}-honest`, agent.server.address)),
      Code.PERMISSION_DENIED,
      /may register only as/,
    );
    await expectMeshError(mallory.heartbeat(`${kind}-honest`), Code.PERMISSION_DENIED);
    await expectMeshError(mallory.deregister(`${kind}-honest`), Code.PERMISSION_DENIED);
    expect((await watcherClient.getAgent(`${kind}-honest`)).spiffeId).toBe(
      `spiffe://agentmesh.local/agent/${kind}-honest`,
    );
    await honest.deregister(`${kind}-honest`);
  });

  it('resumes a watch from a revision with exactly the changes it missed', async () => {
    const name = `${kind}-resumer`;
    const client = await mesh.client(name, AGENT_TYPES);
    const agent = await mesh.agentServer(name);
    const local = collector<WatchMessage>();
    const first = watcherClient.watch(0, (m) => local.push(m));
    const snapshot = await local.next((m) => m.kind === 'snapshot');
    first.cancel();
    await client.register(spec(name, agent.server.address), 30_000);
    await client.deregister(name);
    const resumed = collector<WatchMessage>();
    const second = watcherClient.watch(snapshot.revision, (m) => resumed.push(m));
    try {
      await resumed.next((m) => m.kind === 'agent' && m.type === 'delete' && m.record.id === name);
      expect(resumed.items.some((m) => m.kind === 'snapshot')).toBe(false);
      const mine = resumed.items.filter((m) => m.kind === 'agent' && m.record.id === name);
      expect(mine.map((m) => (m.kind === 'agent' ? m.type : ''))).toEqual(['put', 'delete']);
    } finally {
      second.cancel();
    }
  });

  it('sends a fresh snapshot to a watcher whose revision is too old to resume', async () => {
    const resumed = collector<WatchMessage>();
    const stream = watcherClient.watch(1, (m) => resumed.push(m));
    try {
      // A replica keeps the changes it saw since it loaded the store. The memory store's revisions start from the
      // clock, so revision 1 predates them: a snapshot. This etcd started empty, so every change since revision 1
      // is kept: the missed changes, no snapshot. A revision from the future always gets a snapshot.
      const first = await resumed.next(() => true);
      if (kind === 'memory') expect(first.kind).toBe('snapshot');
      else expect(first.kind === 'agent' && first.revision > 1).toBe(true);
    } finally {
      stream.cancel();
    }
    const future = collector<WatchMessage>();
    const again = watcherClient.watch(Number.MAX_SAFE_INTEGER, (m) => future.push(m));
    try {
      await future.next((m) => m.kind === 'snapshot');
    } finally {
      again.cancel();
    }
  });

  it('answers bad input with a clear error and the right status, and keeps serving', async () => {
    const client = await mesh.client(`${kind}-bad`, AGENT_TYPES);
    await expectMeshError(
      watcherClient.getAgent('no-such-agent'),
      Code.NOT_FOUND,
      /no agent "no-such-agent"/,
    );
    await expectMeshError(client.heartbeat(`${kind}-bad`), Code.NOT_FOUND, /register first/);
    await expectMeshError(
      watcherClient.discover({ labelSelector: 'zone in (eu' }),
      Code.INVALID_ARGUMENT,
      /label selector/,
    );
    await expectMeshError(
      watcherClient.discover({ labelSelector: 'bad key!=x' }),
      Code.INVALID_ARGUMENT,
      /label/,
    );
    await expectMeshError(
      client.register(spec(`${kind}-bad`, 'not-an-endpoint')),
      Code.INVALID_ARGUMENT,
      /endpoint/,
    );
    await expectMeshError(
      client.register(spec(`${kind}-bad`, '127.0.0.1:1', { type: 'Bad Type' })),
      Code.INVALID_ARGUMENT,
      /type/,
    );
    await expectMeshError(
      client.signCertificate('not a csr'),
      Code.INVALID_ARGUMENT,
      /malformed certificate signing request/,
    );
    const keys = await generateRsaKeyPair();
    const csrForOther = createCertificateRequest(
      identitySpiffeId('agentmesh.local', 'admin'),
      keys.privateKeyPem,
      keys.publicKeyPem,
    );
    await expectMeshError(client.signCertificate(csrForOther), Code.PERMISSION_DENIED, /may only obtain/);
    const weak = await generateRsaKeyPair(1024);
    const weakCsr = createCertificateRequest(
      identitySpiffeId('agentmesh.local', `${kind}-bad`),
      weak.privateKeyPem,
      weak.publicKeyPem,
    );
    await expectMeshError(client.signCertificate(weakCsr), Code.INVALID_ARGUMENT, /2048 to 4096 bits/);
    expect((await watcherClient.discover()).revision).toBeGreaterThan(0);
  });

  it('signs a first certificate for a one-time join token, and never twice', async () => {
    const name = `${kind}-newcomer`;
    const ca = await loadCaDir(mesh.certsDir);
    const bundle = await loadTrustBundle(mesh.certsDir);
    const { token } = ca.createJoinToken(name, 60_000);
    const material = await joinMesh({
      address: mesh.controlPlane.address,
      trustBundlePem: bundle.pem,
      token,
      name,
    });
    const identity = new MeshIdentity(material);
    expect(identity.spiffeId.uri).toBe(`spiffe://agentmesh.local/agent/${name}`);
    expect(material.privateKeyPem).toMatch(/BEGIN PRIVATE KEY/); // generated here; only the CSR travelled
    // The new identity works for mTLS calls to the control plane.
    const joined = new ControlPlaneClient({ address: mesh.controlPlane.address, identity });
    try {
      expect((await joined.discover()).revision).toBeGreaterThan(0);
    } finally {
      joined.close();
    }
    await expectMeshError(
      joinMesh({ address: mesh.controlPlane.address, trustBundlePem: bundle.pem, token, name }),
      Code.UNAUTHENTICATED,
      /already used/,
    );
    const expired = ca.createJoinToken(`${kind}-late`, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expectMeshError(
      joinMesh({
        address: mesh.controlPlane.address,
        trustBundlePem: bundle.pem,
        token: expired.token,
        name: `${kind}-late`,
      }),
      Code.UNAUTHENTICATED,
      /expired/,
    );
    await expectMeshError(
      joinMesh({
        address: mesh.controlPlane.address,
        trustBundlePem: bundle.pem,
        token: 'amjt1.garbage.sig',
        name,
      }),
      Code.UNAUTHENTICATED,
      /join token refused/,
    );
  });

  it('renews an identity with its current certificate; new connections use the renewed one', async () => {
    const name = `${kind}-renewer`;
    const agent = await mesh.agentServer(name);
    const client = await mesh.client(name, AGENT_TYPES);
    const before = new X509Certificate(agent.identity.current.certificatePem).serialNumber;
    const renewalClient = new ControlPlaneClient({
      address: mesh.controlPlane.address,
      identity: agent.identity,
    });
    try {
      await renewIdentity(renewalClient, agent.identity, 3_600_000);
    } finally {
      renewalClient.close();
    }
    const after = new X509Certificate(agent.identity.current.certificatePem).serialNumber;
    expect(after).not.toBe(before);
    const caller = await mesh.identity(`${kind}-renewal-caller`);
    const connection = agentClient(
      agent.server.address,
      createChannelCredentials(caller, agent.identity.spiffeId.uri),
    );
    try {
      const { call } = await invoke(connection, 'ping');
      expect(new X509Certificate(call.getAuthContext()!.sslPeerCertificate!.raw).serialNumber).toBe(after);
    } finally {
      connection.close();
      client.close();
    }
  });

  it('distributes policies through watch, and lets only administrators change them', async () => {
    const admin = await mesh.client('control-plane');
    const intruder = await mesh.client(`${kind}-intruder`, AGENT_TYPES);
    const policies = {
      defaultEffect: 'deny' as const,
      rules: [
        {
          id: 'summarizers-call-translators',
          effect: 'allow' as const,
          actions: ['invoke' as const],
          callers: [],
          callerTypes: ['summarizer'],
          targetTypes: ['translator'],
          methods: ['translate*'],
          topics: [],
        },
        {
          id: 'no-secrets',
          effect: 'deny' as const,
          actions: ['subscribe' as const],
          callers: ['spiffe://agentmesh.local/agent/*'],
          callerTypes: [],
          targetTypes: [],
          methods: [],
          topics: ['secrets.>'],
        },
      ],
    };
    await expectMeshError(intruder.setPolicies(policies), Code.PERMISSION_DENIED, /may not change policies/);
    await expectMeshError(
      admin.setPolicies({ ...policies, rules: [{ ...policies.rules[0]!, id: 'bad id!' }] }),
      Code.INVALID_ARGUMENT,
      /rule id/,
    );
    await admin.setPolicies(policies);
    const seen = await messages.next((m) => m.kind === 'policies' && m.policies.defaultEffect === 'deny');
    expect(seen.kind === 'policies' && seen.policies.rules.map((rule) => rule.id)).toEqual([
      'summarizers-call-translators',
      'no-secrets',
    ]);
    expect((await intruder.getPolicies()).rules[1]).toMatchObject({
      effect: 'deny',
      actions: ['subscribe'],
      topics: ['secrets.>'],
    });
    await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
  });
});
