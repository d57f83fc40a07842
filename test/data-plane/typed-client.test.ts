import * as grpc from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { runWithContext } from '../../src/core/call-context.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { meshChannel } from '../../src/data-plane/mesh-resolver.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import { loadProtos } from '../../src/transport/protos.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe("a user's typed client routed by the mesh", () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let cache: EndpointCache;
  let client: TranslatorClient;
  let origin: MeshClient;
  let relayed: TranslatorClient | undefined;
  /** What the translator last saw of a call: its deadline and the mesh metadata. */
  let seen:
    | { deadline: number; sentDeadline?: string; chain?: string; traceparent?: string; conversation?: string }
    | undefined;
  /** The deadline of the call the relay handled last. */
  let relayDeadline: number | undefined;
  const { protos } = loadProtos<TranslatorProtos>(
    ['translator.proto'],
    [new URL('../fixtures/proto', import.meta.url).pathname],
  );

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['translator-1', 'translator-2']) {
      agents.push(
        await startAgent({
          identity: await mesh.identity(name),
          controlPlane: mesh.controlPlane.address,
          type: 'translator',
          services: [
            {
              name: 'demo.v1.Translator',
              definition: protos.demo.v1.Translator.service,
              implementation: {
                Translate: (
                  call: grpc.ServerUnaryCall<{ text: string; targetLanguage: string }, unknown>,
                  callback: grpc.sendUnaryData<unknown>,
                ) => {
                  const deadline = call.getDeadline();
                  const header = (key: string) => call.metadata.get(key)[0]?.toString();
                  seen = {
                    deadline: deadline instanceof Date ? deadline.getTime() : deadline,
                    sentDeadline: header('x-agentmesh-deadline'),
                    chain: header('x-agentmesh-chain'),
                    traceparent: header('traceparent'),
                    conversation: header('x-agentmesh-conversation'),
                  };
                  callback(null, { text: `${name}: [${call.request.targetLanguage}] ${call.request.text}` });
                },
              },
            },
          ],
        }),
      );
    }
    // An agent whose handler calls the translators through a typed client of its own.
    const relay: RunningAgent = await startAgent({
      identity: await mesh.identity('relay-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'relay',
      methods: {
        translate: async (request, call) => {
          relayDeadline = call.deadline;
          if (!relayed) {
            const own = meshChannel(relay.identity, relay.cache, { type: 'translator' });
            relayed = new protos.demo.v1.Translator(own.target, own.credentials, own.options);
          }
          const text = await new Promise<string>((resolve, reject) =>
            relayed!.Translate({ text: request.payload.toString(), targetLanguage: 'de' }, (error, reply) =>
              error || !reply ? reject(error) : resolve(reply.text),
            ),
          );
          return { payload: Buffer.from(text), contentType: 'text/plain' };
        },
      },
    });
    agents.push(relay);
    const identity = await mesh.identity('typed-caller');
    cache = new EndpointCache({ client: await mesh.client('typed-caller'), logger: silentLogger() });
    await cache.start();
    origin = new MeshClient({ identity, cache, logger: silentLogger() });
    await until(
      () =>
        cache.select({ type: 'translator' }).length === 2 &&
        cache.select({ type: 'relay' }).length === 1 &&
        relay.cache.select({ type: 'translator' }).length === 2,
      'the translators and the relay known',
    );
    const channel = meshChannel(identity, cache, { type: 'translator' });
    client = new protos.demo.v1.Translator(channel.target, channel.credentials, channel.options);
  });

  afterAll(async () => {
    client?.close();
    relayed?.close();
    origin?.close();
    cache?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  const translate = (text: string) =>
    new Promise<string>((resolve, reject) =>
      client.Translate({ text, targetLanguage: 'fr' }, { deadline: Date.now() + 5_000 }, (error, reply) =>
        error || !reply ? reject(error) : resolve(reply.text),
      ),
    );

  it('spreads typed calls over the registered instances', async () => {
    const replies: string[] = [];
    for (let i = 0; i < 20; i += 1) replies.push(await translate('bonjour'));
    const byAgent = new Map<string, number>();
    for (const reply of replies)
      byAgent.set(reply.split(':')[0]!, (byAgent.get(reply.split(':')[0]!) ?? 0) + 1);
    expect([...byAgent.keys()].sort()).toEqual(['translator-1', 'translator-2']);
    expect(replies[0]).toMatch(/: \[fr\] bonjour$/);
  });

  it('checks the control plane’s policies on typed methods too', async () => {
    const admin = await mesh.client('control-plane');
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'no-translation',
          effect: 'deny',
          actions: ['invoke'],
          callers: ['spiffe://agentmesh.local/agent/typed-caller'],
          callerTypes: [],
          targetTypes: ['translator'],
          methods: ['demo.v1.Translator/Translate'],
          topics: [],
        },
      ],
    });
    await until(
      () => agents.every((agent) => agent.cache.policies.rules.length === 1),
      'the rule everywhere',
    );
    try {
      const error = (await translate('non').catch((e: unknown) => e)) as grpc.ServiceError;
      expect(error.code).toBe(7); // PERMISSION_DENIED
      expect(error.details).toMatch(
        /may not invoke translator.demo.v1.Translator\/Translate \(rule no-translation\)/,
      );
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => agents.every((agent) => agent.cache.policies.rules.length === 0), 'no rule left');
    }
  });

  it('gives a typed call made inside a handler the call context and the handled call’s deadline', async () => {
    const before = Date.now();
    const result = await origin.call({ type: 'relay' }, 'translate', 'hallo', {
      timeoutMs: 3_000,
      conversationId: 'conv-typed',
    });
    expect(result.payload.toString()).toMatch(/: \[de\] hallo$/);
    expect(seen!.chain).toBe(
      'spiffe://agentmesh.local/agent/typed-caller,spiffe://agentmesh.local/agent/relay-1',
    );
    expect(seen!.conversation).toBe('conv-typed');
    expect(seen!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The relay set no deadline of its own: the call inherited the handled call's (3 s from when it was made), not
    // the 10 s default, and carried it as an absolute time too.
    const after = Date.now();
    expect(relayDeadline).toBeGreaterThanOrEqual(before + 3_000);
    expect(relayDeadline).toBeLessThanOrEqual(after + 3_000);
    expect(seen!.sentDeadline).toBe(String(Math.floor(relayDeadline!)));
    expect(seen!.deadline).toBeGreaterThanOrEqual(relayDeadline!); // gRPC's, counted from arrival: no earlier
  });

  it('gives a typed call outside any handler a default deadline and no mesh metadata', async () => {
    const before = Date.now();
    await new Promise<void>((resolve, reject) =>
      client.Translate({ text: 'x', targetLanguage: 'fr' }, (error) => (error ? reject(error) : resolve())),
    );
    expect(seen!.deadline).toBeGreaterThan(before);
    expect(seen!.deadline).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(seen!.chain).toBeUndefined();
  });

  it('refuses a typed call past the hop limit with FAILED_PRECONDITION, naming the chain', async () => {
    const chain = Array.from({ length: 10 }, (_, i) => `spiffe://agentmesh.local/agent/hop-${i}`);
    const error = await runWithContext({ chain }, () => translate('loop').catch((e: unknown) => e));
    expect((error as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((error as grpc.ServiceError).details).toMatch(
      /call loop: the hop limit of 10 was reached by .*hop-9 -> spiffe:\/\/agentmesh.local\/agent\/typed-caller$/,
    );
  });

  it('refuses an invalid label selector when the channel is made, with INVALID_ARGUMENT', async () => {
    const attempt = async () =>
      meshChannel(await mesh.identity('typed-caller'), cache, {
        type: 'translator',
        labelSelector: 'zone in (eu',
      });
    const error = (await attempt().catch((e: unknown) => e)) as MeshError;
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
  });

  it('describes the users’ typed services through server reflection', async () => {
    const require = createRequire(import.meta.url);
    const reflectionProto = protoLoader.loadSync(
      require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'),
      { keepCase: true },
    );
    const Reflection = (
      grpc.loadPackageDefinition(reflectionProto) as unknown as {
        grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
      }
    ).grpc.reflection.v1.ServerReflection;
    const reflection = new Reflection(
      agents[0]!.address,
      createChannelCredentials(await mesh.identity('typed-caller'), agents[0]!.identity.spiffeId.uri),
      MESH_CHANNEL_OPTIONS,
    );
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const stream = reflection.ServerReflectionInfo() as grpc.ClientDuplexStream<
          object,
          { list_services_response?: { service: Array<{ name: string }> } }
        >;
        stream.on('data', (response: { list_services_response?: { service: Array<{ name: string }> } }) => {
          resolve(response.list_services_response?.service.map((service) => service.name) ?? []);
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ list_services: '' });
      });
      expect(names).toEqual(expect.arrayContaining(['agentmesh.v1.Agent', 'demo.v1.Translator']));
    } finally {
      reflection.close();
    }
  });

  it('follows the registry: a drained instance stops receiving calls', async () => {
    await agents[0]!.drain(1_000);
    await until(() => cache.select({ type: 'translator' }).length === 1, 'the drained one gone');
    for (let i = 0; i < 10; i += 1) expect(await translate('salut')).toMatch(/^translator-2:/);
  });
});
