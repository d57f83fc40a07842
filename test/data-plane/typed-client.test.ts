import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { meshChannel } from '../../src/data-plane/mesh-resolver.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadProtos } from '../../src/transport/protos.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

describe("a user's typed client routed by the mesh", () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let cache: EndpointCache;
  let client: TranslatorClient;
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
                ) =>
                  callback(null, { text: `${name}: [${call.request.targetLanguage}] ${call.request.text}` }),
              },
            },
          ],
        }),
      );
    }
    const identity = await mesh.identity('typed-caller');
    cache = new EndpointCache({ client: await mesh.client('typed-caller'), logger: silentLogger() });
    await cache.start();
    while (cache.select({ type: 'translator' }).length < 2)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const channel = meshChannel(identity, cache, { type: 'translator' });
    client = new protos.demo.v1.Translator(channel.target, channel.credentials, channel.options);
  });

  afterAll(async () => {
    client?.close();
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
    while (!agents.every((agent) => agent.cache.policies.rules.length === 1))
      await new Promise((resolve) => setTimeout(resolve, 10));
    try {
      const error = (await translate('non').catch((e: unknown) => e)) as grpc.ServiceError;
      expect(error.code).toBe(7); // PERMISSION_DENIED
      expect(error.details).toMatch(
        /may not invoke translator.demo.v1.Translator\/Translate \(rule no-translation\)/,
      );
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      while (!agents.every((agent) => agent.cache.policies.rules.length === 0))
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('follows the registry: a drained instance stops receiving calls', async () => {
    await agents[0]!.drain(1_000);
    while (cache.select({ type: 'translator' }).length > 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < 10; i += 1) expect(await translate('salut')).toMatch(/^translator-2:/);
  });
});
