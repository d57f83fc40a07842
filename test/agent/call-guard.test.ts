import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { loadMeshProtos, loadProtos } from '../../src/transport/protos.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const ID = (name: string) => `spiffe://agentmesh.local/agent/${name}`;

/** What an agent checks on every call before a handler runs: policies, the caller chain, its concurrency limit. */
describe('the checks an agent makes on incoming calls', () => {
  let mesh: TestMesh;
  let agent: RunningAgent;
  let admin: ControlPlaneClient;
  let cache: EndpointCache;
  let raw: AgentClient;
  let typed: TranslatorClient;
  let seenChain: string[] | undefined;
  let release: (() => void) | undefined;
  let held: (() => void) | undefined;
  const { protos } = loadProtos<TranslatorProtos>(
    ['translator.proto'],
    [new URL('../fixtures/proto', import.meta.url).pathname],
  );

  beforeAll(async () => {
    mesh = await startTestMesh();
    agent = await startAgent({
      identity: await mesh.identity('vault-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'vault',
      maxConcurrency: 1,
      // No queue: a call beyond the one running is refused at once (queueing is tested in call-scheduling).
      maxQueue: 0,
      leaseTtlMs: 1_500, // heartbeats every 500 ms
      methods: {
        read: async (_request, call) => {
          seenChain = call.context.chain;
          return { payload: Buffer.from('secret'), contentType: 'text/plain' };
        },
        'admin-rotate-keys': async () => ({ payload: Buffer.from(''), contentType: 'text/plain' }),
      },
      services: [
        {
          name: 'demo.v1.Translator',
          definition: protos.demo.v1.Translator.service,
          implementation: {
            Translate: (
              call: grpc.ServerUnaryCall<{ text: string }, unknown>,
              callback: grpc.sendUnaryData<unknown>,
            ) => {
              release = () => callback(null, { text: `held ${call.request.text}` });
              held?.();
            },
          },
        },
      ],
    });
    admin = await mesh.client('control-plane');
    cache = new EndpointCache({ client: await mesh.client('mallory'), logger: silentLogger() });
    await cache.start();
    await until(() => cache.select({ type: 'vault' }).length === 1, 'the agent is registered');
    const credentials = createChannelCredentials(await mesh.identity('mallory'), ID('vault-1'));
    raw = new (loadMeshProtos().protos.agentmesh.v1.Agent)(agent.address, credentials, MESH_CHANNEL_OPTIONS);
    typed = new protos.demo.v1.Translator(agent.address, credentials, MESH_CHANNEL_OPTIONS);
  });

  afterAll(async () => {
    raw?.close();
    typed?.close();
    cache?.close();
    await agent?.drain(0);
    await mesh?.close();
  });

  /** Invokes `method` as mallory, with `chain` as the caller chain sent; resolves with the outcome. */
  const invoke = (method: string, chain?: string[]) =>
    new Promise<{ code: number; details: string; payload?: string }>((resolve) => {
      const metadata = new grpc.Metadata();
      if (chain) metadata.set('x-agentmesh-chain', chain.join(','));
      raw.Invoke(
        { method, payload: Buffer.from(''), contentType: 'text/plain' },
        metadata,
        { deadline: Date.now() + 10_000 },
        (error, response) =>
          resolve(
            error
              ? { code: error.code, details: error.details }
              : { code: 0, details: '', payload: response!.payload.toString() },
          ),
      );
    });

  const setPolicies = async (rules: Parameters<ControlPlaneClient['setPolicies']>[0]['rules']) => {
    await admin.setPolicies({ defaultEffect: 'allow', rules });
    await until(() => agent.cache.policies.rules.length === rules.length, 'the agent has the policies');
  };

  it('refuses a caller the policies deny before saying which methods exist', async () => {
    await setPolicies([
      {
        id: 'no-mallory',
        effect: 'deny',
        actions: ['invoke'],
        callers: [ID('mallory')],
        callerTypes: [],
        targetTypes: ['vault'],
        methods: ['*'],
        topics: [],
      },
    ]);
    try {
      const probe = await invoke('no-such-method');
      expect(probe.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(probe.details).toMatch(/may not invoke vault.no-such-method \(rule no-mallory\)/);
      expect(probe.details).not.toMatch(/admin-rotate-keys|serves/);
    } finally {
      await setPolicies([]);
    }
    // An allowed caller still learns what the agent serves.
    const unknown = await invoke('no-such-method');
    expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unknown.details).toMatch(/this agent serves: admin-rotate-keys, read/);
  });

  it('ends the caller chain with the verified caller, whatever chain the caller sends', async () => {
    expect((await invoke('read', [ID('ceo')])).payload).toBe('secret');
    expect(seenChain).toEqual([ID('ceo'), ID('mallory')]);
    expect((await invoke('read', [ID('origin'), ID('mallory')])).payload).toBe('secret');
    expect(seenChain).toEqual([ID('origin'), ID('mallory')]);
    expect((await invoke('read')).payload).toBe('secret');
    expect(seenChain).toEqual([ID('mallory')]);
  });

  it('refuses on arrival a chain longer than the hop limit, naming it', async () => {
    const nine = Array.from({ length: 9 }, (_, i) => ID(`hop-${i}`));
    expect((await invoke('read', nine)).code).toBe(grpc.status.OK); // ten with the caller: at the limit
    const refused = await invoke('read', [...nine, ID('hop-9')]);
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(
      /^call loop: the hop limit of 10 was reached by spiffe:\/\/agentmesh.local\/agent\/hop-0 -> .* -> spiffe:\/\/agentmesh.local\/agent\/hop-9 -> spiffe:\/\/agentmesh.local\/agent\/mallory$/,
    );
  });

  it('refuses calls above maxConcurrency with RESOURCE_EXHAUSTED, counting typed calls, and reports them', async () => {
    const started = new Promise<void>((resolve) => (held = resolve));
    const first = new Promise<string>((resolve, reject) =>
      typed.Translate({ text: 'one', targetLanguage: 'fr' }, { deadline: Date.now() + 20_000 }, (e, r) =>
        e || !r ? reject(e) : resolve(r.text),
      ),
    );
    await started;
    // The held typed call fills the agent, which queues nothing: a generic call and a second typed call are refused.
    const generic = await invoke('read');
    expect(generic.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(generic.details).toMatch(/agent "vault-1" is busy: 1 calls run and 0 wait/);
    const second = await new Promise<grpc.ServiceError | null>((resolve) =>
      typed.Translate({ text: 'two', targetLanguage: 'fr' }, { deadline: Date.now() + 10_000 }, (e) =>
        resolve(e),
      ),
    );
    expect(second?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // Heartbeats report the call in flight.
    await until(() => cache.get('vault-1')?.load.inFlight === 1, 'a heartbeat reports one call in flight');
    release!();
    expect(await first).toBe('held one');
    expect((await invoke('read')).code).toBe(grpc.status.OK);
    await until(() => cache.get('vault-1')?.load.inFlight === 0, 'a heartbeat reports no call in flight');
  });
});
