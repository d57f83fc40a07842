import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { joinMesh, type ControlPlaneClient } from '../../src/control-plane/client.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { Code, MeshError } from '../../src/core/errors.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import type { ControlPlaneClient as RawControlPlaneClient } from '../../src/generated/agentmesh/v1/ControlPlane.js';
import { createCertificateRequest } from '../../src/identity/certificate-authority.js';
import { loadCaDir, loadTrustBundle } from '../../src/identity/certs-dir.js';
import { generateRsaKeyPair } from '../../src/identity/keys.js';
import { spiffeIdFrom } from '../../src/core/spiffe-id.js';
import { CONTROL_PLANE_CHANNEL_OPTIONS, MESH_CHANNEL_OPTIONS } from '../../src/transport/credentials.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { runEntryPoint } from '../helpers/run-cli.js';
import { requireSystemBinary } from '../helpers/system-binary.js';
import { knows, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;
const openssl = requireSystemBinary('openssl', 'openssl');

/** What a call that failed tells: its code and message. */
async function failure(promise: Promise<unknown>): Promise<MeshError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => MeshError.from(error),
  );
  expect(outcome, 'the call should have failed').toBeDefined();
  return outcome!;
}

/** A raw grpc-js call's failure: its code and details. */
function rawFailure(
  start: (done: (error: grpc.ServiceError | null) => void) => void,
): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) =>
    start((error) => (error ? resolve(error) : reject(new Error('the call should have failed')))),
  );
}

/**
 * The identity model end to end, over mTLS with a CA made at test start: the type an agent registers as is the one
 * its certificate (or an administrator's grant) entitles it to, `callerTypes` in policies means those types, and
 * certificates the CA would never issue (a cA=TRUE leaf, a 1024-bit key, a SHA-1 signature: made with openssl) are
 * refused by agents and the control plane alike.
 */
describe('the identity model', () => {
  let mesh: TestMesh;
  let admin: ControlPlaneClient;
  const agents: RunningAgent[] = [];
  let caller: RunningAgent;

  const start = async (name: string, type: string, types?: readonly string[]) => {
    const agent = await startAgent({
      identity: await mesh.identity(name, types),
      controlPlane: mesh.controlPlane.address,
      type,
      methods: { whoami: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
    });
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    admin = await mesh.client('control-plane');
    await start('summarizer-1', 'summarizer');
    await start('vault-1', 'vault');
    caller = await start('planner-1', 'planner');
    await until(
      () => knows(caller, 'summarizer-1', 'vault-1'),
      'the caller knows the summarizer and the vault',
      10_000,
    );
  });

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('refuses a type the identity is not entitled to, names how to grant it, and never routes to it', async () => {
    const refused = await failure(start('mallory', 'summarizer'));
    expect(refused.code).toBe(Code.PERMISSION_DENIED);
    expect(refused.message).toContain(`"${ID('mallory')}" is not entitled to register as type "summarizer"`);
    expect(refused.message).toContain('agent-mesh ca issue mallory --type summarizer');
    expect(refused.message).toContain('"types": ["summarizer"]');
    expect((await admin.discover({ type: 'summarizer' })).agents.map((agent) => agent.id)).toEqual([
      'summarizer-1',
    ]);
    const answers = new Set<string>();
    for (let i = 0; i < 8; i += 1) {
      answers.add((await caller.mesh.call({ type: 'summarizer' }, 'whoami', '')).payload.toString());
    }
    expect([...answers]).toEqual(['summarizer-1']);
  });

  it('lets a policy grant entitle an identity to a type, and only while the grant stands', async () => {
    const intern = await mesh.client('intern-1', ['intern']);
    const spec = { type: 'reviewer', name: 'intern-1', endpoint: '127.0.0.1:9' };
    expect((await failure(intern.register(spec))).code).toBe(Code.PERMISSION_DENIED);
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [],
      grants: [
        {
          id: 'interns-review',
          callers: [ID('intern-*')],
          callerTypes: [],
          types: ['reviewer'],
          priority: '',
        },
      ],
    });
    await intern.register(spec, 60_000);
    expect((await admin.discover({ type: 'reviewer' })).agents.map((agent) => agent.id)).toEqual([
      'intern-1',
    ]);
    // Withdrawing the grant removes the registration it allowed, and a new one is refused.
    await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
    expect((await admin.discover({ type: 'reviewer' })).agents).toEqual([]);
    expect((await failure(intern.register(spec))).code).toBe(Code.PERMISSION_DENIED);
  });

  it('cuts a revoked identity off: no requests, no renewal, no registration, no calls', async () => {
    const stolen = await start('scribe-1', 'scribe');
    await until(() => knows(caller, 'scribe-1'), 'the scribe is known', 10_000);
    // It knows where the vault is before it is revoked (afterwards the control plane tells it nothing more).
    await until(
      () => stolen.cache.select({ type: 'vault' }).length > 0,
      'the scribe knows the vault',
      10_000,
    );
    const client = await mesh.client('scribe-1', ['scribe']);
    // A watch it opened before the revocation ends with it.
    let snapshots = 0;
    const watchEnded = new Promise<Error | undefined>((resolve) => {
      client.watch(
        0,
        (message) => {
          if (message.kind === 'snapshot') snapshots += 1;
        },
        resolve,
      );
    });
    await until(() => snapshots === 1, 'the watch has its snapshot');
    await admin.setPolicies({ defaultEffect: 'allow', rules: [], revokedIdentities: [ID('scribe-1')] });
    const watchError = MeshError.from(await watchEnded);
    expect(watchError.code).toBe(Code.PERMISSION_DENIED);
    expect(watchError.message).toMatch(/is revoked/);
    expect((await admin.discover({ type: 'scribe' })).agents).toEqual([]);
    const revoked = /is revoked by the mesh's policies/;
    const keys = await generateRsaKeyPair();
    const csr = createCertificateRequest(spiffeIdFrom(ID('scribe-1')), keys.privateKeyPem, keys.publicKeyPem);
    for (const refused of [
      await failure(client.signCertificate(csr)),
      await failure(client.register({ type: 'scribe', name: 'scribe-1', endpoint: '127.0.0.1:9' })),
      await failure(client.discover({})),
    ]) {
      expect(refused.code).toBe(Code.PERMISSION_DENIED);
      expect(refused.message).toMatch(revoked);
    }
    // Nor can a join token for its name buy it a fresh certificate.
    const { token } = (await loadCaDir(mesh.certsDir)).createJoinToken('scribe-1', 60_000, {
      types: ['scribe'],
    });
    const join = await failure(
      joinMesh({
        address: mesh.controlPlane.address,
        trustBundlePem: (await loadTrustBundle(mesh.certsDir)).pem,
        token,
        name: 'scribe-1',
      }),
    );
    expect(join.code).toBe(Code.PERMISSION_DENIED);
    expect(join.message).toMatch(revoked);
    // Agents refuse its calls as soon as they have the policies.
    const vault = agents.find((agent) => agent.name === 'vault-1')!;
    await until(() => vault.cache.policies.revokedIdentities?.length === 1, 'the vault has the revocation');
    const call = await failure(stolen.mesh.call({ type: 'vault' }, 'whoami', '', { timeoutMs: 5_000 }));
    expect(call.code).toBe(Code.PERMISSION_DENIED);
    expect(call.message).toMatch(revoked);
    await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
    // A pattern that would take in the control plane's own identity is refused: nobody could undo it.
    const lockout = await failure(
      admin.setPolicies({
        defaultEffect: 'allow',
        rules: [],
        revokedIdentities: ['spiffe://agentmesh.local/*'],
      }),
    );
    expect(lockout.code).toBe(Code.INVALID_ARGUMENT);
    expect(lockout.message).toMatch(
      /would revoke "spiffe:\/\/agentmesh.local\/control-plane", an administrator/,
    );
  });

  it('keeps a callerTypes deny rule and allow-list in force whatever type a caller claims', async () => {
    // Deny rule: interns may not call the vault. An intern cannot get around it by registering as a planner.
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          ...{ id: 'no-interns-at-the-vault', effect: 'deny', actions: ['invoke'], callers: [] },
          ...{ callerTypes: ['intern'], targetTypes: ['vault'], methods: [], topics: [] },
        },
      ],
    });
    const refused = await failure(start('intern-2', 'planner', ['intern']));
    expect(refused.code).toBe(Code.PERMISSION_DENIED);
    // Unregistered, it is still an intern: its certificate says so.
    const intern = await start('intern-3', 'intern');
    await until(() => intern.cache.policies.rules.length === 1 && knows(intern, 'vault-1'));
    await until(() => agents.find((a) => a.name === 'vault-1')!.cache.policies.rules.length === 1);
    const denied = await failure(intern.mesh.call({ type: 'vault' }, 'whoami', ''));
    expect(denied.code).toBe(Code.PERMISSION_DENIED);
    expect(denied.message).toMatch(/rule no-interns-at-the-vault/);
    expect((await caller.mesh.call({ type: 'vault' }, 'whoami', '')).payload.toString()).toBe('vault-1');

    // Allow-list: only planners may call the vault. An intern that claims to be a planner is no planner.
    await admin.setPolicies({
      defaultEffect: 'deny',
      rules: [
        {
          ...{ id: 'planners-only', effect: 'allow', actions: ['invoke'], callers: [] },
          ...{ callerTypes: ['planner'], targetTypes: ['vault'], methods: [], topics: [] },
        },
      ],
    });
    await until(() => agents.find((a) => a.name === 'vault-1')!.cache.policies.defaultEffect === 'deny');
    expect((await failure(intern.mesh.call({ type: 'vault' }, 'whoami', ''))).code).toBe(
      Code.PERMISSION_DENIED,
    );
    expect((await caller.mesh.call({ type: 'vault' }, 'whoami', '')).payload.toString()).toBe('vault-1');
    await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
  });

  it('answers a 3 MB agent id and a 1,000-agent chain with their real codes and short messages', async () => {
    const client = await mesh.client('planner-2', ['planner']);
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const heartbeat = await failure(client.heartbeat(huge, { inFlight: 0, queueDepth: 0 }));
    expect(heartbeat.code).toBe(Code.PERMISSION_DENIED);
    expect(heartbeat.message.length).toBeLessThan(400);
    const deregister = await failure(client.deregister(huge));
    expect(deregister.code).toBe(Code.PERMISSION_DENIED);
    expect(deregister.message.length).toBeLessThan(400);

    const { protos } = loadMeshProtos();
    const identity = await mesh.identity('planner-3', ['planner']);
    const { createChannelCredentials } = await import('../../src/transport/credentials.js');
    const target = caller.cache.get('summarizer-1')!;
    const agent = new protos.agentmesh.v1.Agent(
      target.spec.endpoint,
      createChannelCredentials(identity, target.spiffeId),
      { ...MESH_CHANNEL_OPTIONS, 'grpc.max_metadata_size': 1024 * 1024 },
    ) as unknown as AgentClient;
    try {
      const metadata = new grpc.Metadata();
      metadata.set('x-agentmesh-chain', Array.from({ length: 1000 }, (_, i) => ID(`hop-${i}`)).join(','));
      const error = await rawFailure((done) =>
        agent.Invoke({ method: 'whoami' }, metadata, { deadline: Date.now() + 10_000 }, done),
      );
      expect(grpc.status[error.code]).toBe('FAILED_PRECONDITION');
      expect(error.details).toMatch(
        /hop limit of 10 was reached by .*hop-0 -> .*hop-2 -> … \d+ more … -> .*hop-999/,
      );
      expect(error.details.length).toBeLessThan(1_000);
    } finally {
      agent.close();
    }
  });

  describe.skipIf(!openssl)('certificates our CA would never issue, made with openssl', () => {
    const made = new Map<string, { key: Buffer; cert: Buffer; file: string }>();

    /** Signs a leaf for `name` with the mesh's CA key, as openssl is told. */
    const makeLeaf = (name: string, options: { bits: number; digest: string; ca: boolean }) => {
      const dir = mesh.certsDir;
      const key = join(dir, `${name}.weak.key`);
      const csr = join(dir, `${name}.weak.csr`);
      const ext = join(dir, `${name}.weak.ext`);
      const cert = join(dir, `${name}.weak.crt`);
      writeFileSync(
        ext,
        [
          '[leaf]',
          `basicConstraints = critical, CA:${options.ca ? 'TRUE' : 'FALSE'}`,
          'keyUsage = critical, digitalSignature',
          'extendedKeyUsage = serverAuth, clientAuth',
          `subjectAltName = URI:${ID(name)}`,
          'subjectKeyIdentifier = hash',
          'authorityKeyIdentifier = keyid',
          '',
        ].join('\n'),
      );
      execFileSync(openssl!, ['genrsa', '-out', key, String(options.bits)], { stdio: 'ignore' });
      execFileSync(openssl!, ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], {
        stdio: 'ignore',
      });
      execFileSync(
        openssl!,
        ['x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key')]
          .concat(['-set_serial', `0x${Date.now().toString(16)}`, '-days', '1', `-${options.digest}`])
          .concat(['-extfile', ext, '-extensions', 'leaf', '-out', cert]),
        { stdio: 'ignore' },
      );
      made.set(name, { key: readFileSync(key), cert: readFileSync(cert), file: cert });
    };

    beforeAll(() => {
      makeLeaf('ca-leaf', { bits: 2048, digest: 'sha256', ca: true });
      makeLeaf('small-key', { bits: 1024, digest: 'sha256', ca: false });
      makeLeaf('sha1-signed', { bits: 2048, digest: 'sha1', ca: false });
      makeLeaf('well-made', { bits: 2048, digest: 'sha256', ca: false });
    });

    const credentials = async (name: string) => {
      const bundle = (await loadTrustBundle(mesh.certsDir)).pem;
      const { key, cert } = made.get(name)!;
      // Security level 0 lets Node's own OpenSSL present a SHA-1 certificate at all, as other TLS stacks (Python's
      // grpcio) do. Any server is accepted: this is about whether the servers refuse the client.
      const context = createSecureContext({ ca: bundle, key, cert, ciphers: 'DEFAULT:@SECLEVEL=0' });
      return grpc.credentials.createFromSecureContext(context, { checkServerIdentity: () => undefined });
    };

    /**
     * Each flaw, why our SVID check refuses it, and what an agent's server answers a client presenting it: our
     * check's UNAUTHENTICATED with the reason, or for SHA-1 a failed handshake (UNAVAILABLE): Node's OpenSSL
     * security level already refuses SHA-1 signatures in a client's chain. The control plane, which lets clients
     * without a certificate connect (to join with a token), gets such a chain unverified, and its peer check refuses
     * the call. Our check refuses SHA-1 too wherever a certificate is verified (ca verify, renewal, identity updates,
     * and TLS stacks that accept it).
     */
    const reasons: Array<[string, RegExp, { agent: grpc.status; refusal: RegExp }]> = [
      [
        'ca-leaf',
        /it is a CA certificate \(basicConstraints cA=TRUE\), not a leaf/,
        { agent: grpc.status.UNAUTHENTICATED, refusal: /not a leaf/ },
      ],
      [
        'small-key',
        /its RSA key has 1024 bits; at least 2048 are required/,
        { agent: grpc.status.UNAUTHENTICATED, refusal: /1024 bits/ },
      ],
      [
        'sha1-signed',
        /it is signed with sha1WithRSAEncryption; SHA-256 or stronger is required/,
        { agent: grpc.status.UNAVAILABLE, refusal: /not verified by TLS/ },
      ],
    ];

    it.each(reasons)(
      'refuses the %s leaf at an agent and at the control plane',
      async (name, reason, { agent: agentCode, refusal }) => {
        const checked = (await loadTrustBundle(mesh.certsDir)).verify(made.get(name)!.cert);
        expect(checked.ok).toBe(false);
        expect(!checked.ok && checked.error.message).toMatch(reason);
        const { protos } = loadMeshProtos();
        const target = caller.cache.get('summarizer-1')!;
        const agent = new protos.agentmesh.v1.Agent(
          target.spec.endpoint,
          await credentials(name),
          MESH_CHANNEL_OPTIONS,
        ) as unknown as AgentClient;
        const controlPlane = new protos.agentmesh.v1.ControlPlane(
          mesh.controlPlane.address,
          await credentials(name),
          CONTROL_PLANE_CHANNEL_OPTIONS,
        ) as unknown as RawControlPlaneClient;
        try {
          const atAgent = await rawFailure((done) =>
            agent.Invoke({ method: 'whoami' }, { deadline: Date.now() + 10_000 }, done),
          );
          expect(grpc.status[atAgent.code], atAgent.details).toBe(grpc.status[agentCode]);
          if (agentCode === grpc.status.UNAUTHENTICATED) expect(atAgent.details).toMatch(refusal);
          const atControlPlane = await rawFailure((done) =>
            controlPlane.Register(
              { spec: { type: name, name, endpoint: '127.0.0.1:9' } },
              { deadline: Date.now() + 10_000 },
              done,
            ),
          );
          expect(grpc.status[atControlPlane.code], atControlPlane.details).toBe('UNAUTHENTICATED');
          expect(atControlPlane.details).toMatch(refusal);
          // Renewal is a call like any other: the control plane never signs for such a certificate.
          const renewal = await rawFailure((done) =>
            controlPlane.SignCertificate({ csrPem: 'x' }, { deadline: Date.now() + 10_000 }, done),
          );
          expect(grpc.status[renewal.code]).toBe('UNAUTHENTICATED');
        } finally {
          agent.close();
          controlPlane.close();
        }
        const verify = await runEntryPoint('ca-script', [
          'verify',
          made.get(name)!.file,
          '--dir',
          mesh.certsDir,
        ]);
        expect(verify.code).not.toBe(0);
        expect(verify.stderr + verify.stdout).toMatch(reason);
      },
    );

    it('accepts a well-made openssl leaf, which proves the refusals are about the flaws', async () => {
      const { protos } = loadMeshProtos();
      const target = caller.cache.get('summarizer-1')!;
      const agent = new protos.agentmesh.v1.Agent(
        target.spec.endpoint,
        await credentials('well-made'),
        MESH_CHANNEL_OPTIONS,
      ) as unknown as AgentClient;
      try {
        const answer = await new Promise<string>((resolve, reject) =>
          agent.Invoke({ method: 'whoami' }, { deadline: Date.now() + 10_000 }, (error, response) =>
            error ? reject(error) : resolve(response!.payload.toString()),
          ),
        );
        expect(answer).toBe('summarizer-1');
      } finally {
        agent.close();
      }
    });
  });
});

/**
 * Audit mode, the step of a mesh moving to entitlements: a registration of a type the identity is not entitled to
 * goes through, logged and counted; once a control plane enforces entitlements (here a second replica on the same
 * store), that registration ends at its next heartbeat and is refused when it comes back.
 */
describe('type entitlements in audit mode, then enforced', () => {
  let audit: TestMesh;
  let enforcing: TestMesh;
  const store = new MemoryStore();

  beforeAll(async () => {
    audit = await startTestMesh({ store: () => store, typeEntitlements: 'audit' });
    enforcing = await startTestMesh({ store: () => store, certsDir: audit.certsDir });
  });

  afterAll(async () => {
    await enforcing?.close();
    await audit?.close();
  });

  it('lets a claimed type through with a metric, and enforcement removes it', async () => {
    const spec = { type: 'vault', name: 'mallory', endpoint: '127.0.0.1:9' };
    const viaAudit = await audit.client('mallory');
    await viaAudit.register(spec, 60_000);
    expect((await viaAudit.discover({ type: 'vault' })).agents.map((agent) => agent.id)).toEqual(['mallory']);
    const metrics = await audit.controlPlane.metrics.getMetricsAsJSON();
    const unentitled = metrics.find(
      (metric) => metric.name === 'agentmesh_control_plane_unentitled_registrations_total',
    );
    expect(unentitled?.values).toEqual([{ value: 1, labels: { type: 'vault', mode: 'audit' } }]);

    const viaEnforcing = await enforcing.client('mallory');
    await until(
      async () => (await viaEnforcing.discover({ type: 'vault' })).agents.length === 1,
      'replicated',
    );
    const ended = await failure(viaEnforcing.heartbeat('mallory', { inFlight: 0, queueDepth: 0 }));
    expect(ended.code).toBe(Code.NOT_FOUND);
    expect(ended.message).toMatch(/was removed: .*is not entitled to register as type "vault"/);
    expect((await viaEnforcing.discover({ type: 'vault' })).agents).toEqual([]);
    expect((await failure(viaEnforcing.register(spec))).code).toBe(Code.PERMISSION_DENIED);
  });
});
