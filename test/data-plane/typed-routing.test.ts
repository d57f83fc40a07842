import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { CallObserver } from '../../src/data-plane/attempt-loop.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadMeshProtos, loadProtos } from '../../src/transport/protos.js';
import type { AgentClient } from '../../src/generated/agentmesh/v1/Agent.js';
import type { InvokeResponse__Output } from '../../src/generated/agentmesh/v1/InvokeResponse.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** What a mesh client's observer was told: failovers, ejections, and which instance each attempt went to. */
function recorder(): CallObserver & {
  failovers: number;
  ejections: number;
  attempts: Array<[string, number]>;
} {
  const seen = {
    failovers: 0,
    ejections: 0,
    attempts: [] as Array<[string, number]>,
    attempt: (callee: { id: string }, _method: string, code: number) => seen.attempts.push([callee.id, code]),
    retry: () => undefined,
    failover: () => (seen.failovers += 1),
    ejection: () => (seen.ejections += 1),
    unrouted: () => undefined,
  };
  return seen;
}

/** An ejection outlasts any test run: an ejected instance is not tried again however slow the machine is. */
const outliers = { baseEjectionMs: 600_000 };

describe('typed clients on the mesh’s routing path', () => {
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  let cache: EndpointCache;
  const { protos } = loadProtos<TranslatorProtos>(
    ['translator.proto'],
    [new URL('../fixtures/proto', import.meta.url).pathname],
  );

  beforeAll(async () => {
    mesh = await startTestMesh();
    // Two good translators in both groups; a sick one (it answers every call UNAVAILABLE) in group b only.
    for (const name of ['translator-1', 'translator-2', 'translator-sick']) {
      const sick = name === 'translator-sick';
      agents.push(
        await startAgent({
          identity: await mesh.identity(name, ['translator']),
          controlPlane: mesh.controlPlane.address,
          type: 'translator',
          labels: sick ? { b: 'yes' } : { a: 'yes', b: 'yes' },
          methods: {
            translate: async () => {
              if (sick) throw new MeshError(Code.UNAVAILABLE, 'sick');
              return { payload: Buffer.from(name), contentType: 'text/plain' };
            },
          },
          streams: {
            count: async function* () {
              for (const n of ['1', '2', '3'])
                yield { payload: Buffer.from(`${name}:${n}`), contentType: 'text/plain' };
            },
          },
          services: [
            {
              name: 'demo.v1.Translator',
              definition: protos.demo.v1.Translator.service,
              implementation: {
                Translate: (
                  _call: grpc.ServerUnaryCall<unknown, unknown>,
                  callback: grpc.sendUnaryData<unknown>,
                ) =>
                  sick
                    ? callback({ code: Code.UNAVAILABLE, details: 'sick' })
                    : callback(null, { text: name }),
              },
            },
          ],
        }),
      );
    }
    // In group a, an instance registered healthy whose address takes no connections (its process is gone).
    const dead = {
      type: 'translator',
      name: 'translator-dead',
      endpoint: '127.0.0.1:1',
      labels: { a: 'yes' },
    };
    await (await mesh.client('translator-dead', ['translator'])).register(dead, 60_000);
    cache = new EndpointCache({ client: await mesh.client('typed-router'), logger: silentLogger() });
    await cache.start();
    await until(() => cache.select({ type: 'translator' }).length === 4, 'four translators are registered');
  });

  afterAll(async () => {
    cache?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  /**
   * Makes 24 typed calls and 24 generic calls to `query` through two mesh clients of the same settings, and returns
   * each client's replies and what its observer was told.
   */
  async function typedAndGeneric(query: { type: string; labelSelector: string }, idempotent: boolean) {
    const identity = await mesh.identity('typed-router');
    const runs = {
      typed: { seen: recorder(), replies: [] as string[] },
      generic: { seen: recorder(), replies: [] as string[] },
    };
    const typedMesh = new MeshClient({
      identity,
      cache,
      logger: silentLogger(),
      outliers,
      observer: runs.typed.seen,
    });
    const genericMesh = new MeshClient({
      identity,
      cache,
      logger: silentLogger(),
      outliers,
      observer: runs.generic.seen,
    });
    const channel = typedMesh.channel(query, { idempotent });
    const typed: TranslatorClient = new protos.demo.v1.Translator(
      channel.target,
      channel.credentials,
      channel.options,
    );
    try {
      for (let i = 0; i < 24; i += 1) {
        runs.typed.replies.push(
          await new Promise<string>((resolve, reject) =>
            typed.Translate({ text: 'x', targetLanguage: 'fr' }, (error, reply) =>
              error || !reply ? reject(error) : resolve(reply.text),
            ),
          ),
        );
        const generic = await genericMesh.call(query, 'translate', 'x', {
          balancer: 'round-robin',
          idempotent,
        });
        runs.generic.replies.push(generic.payload.toString());
      }
    } finally {
      typed.close();
      typedMesh.close();
      genericMesh.close();
    }
    return runs;
  }

  it('fails a typed call over past an unreachable instance, as a generic call does', async () => {
    // Not idempotent: the calls move on because the request certainly never left.
    const runs = await typedAndGeneric({ type: 'translator', labelSelector: 'a=yes' }, false);
    for (const { seen, replies } of [runs.typed, runs.generic]) {
      // Every call answered by a live instance; the dead one was tried and failed over from.
      expect(new Set(replies)).toEqual(new Set(['translator-1', 'translator-2']));
      expect(seen.failovers).toBeGreaterThan(0);
      expect(seen.attempts.some(([id, code]) => id === 'translator-dead' && code === Code.UNAVAILABLE)).toBe(
        true,
      );
    }
  });

  it('ejects an instance that keeps failing from a typed client’s balancing, as from a generic call’s', async () => {
    const runs = await typedAndGeneric({ type: 'translator', labelSelector: 'b=yes' }, true);
    for (const { seen, replies } of [runs.typed, runs.generic]) {
      expect(new Set(replies)).toEqual(new Set(['translator-1', 'translator-2']));
      expect(seen.failovers).toBeGreaterThan(0);
      expect(seen.ejections).toBe(1);
      // The default threshold: five consecutive failures, then it is no longer tried.
      const sick = seen.attempts.filter(([id]) => id === 'translator-sick');
      expect(sick).toEqual(Array.from({ length: 5 }, () => ['translator-sick', Code.UNAVAILABLE]));
    }
  });

  it('streams a typed server-streaming call through the routing path to its end', async () => {
    const routed = new MeshClient({
      identity: await mesh.identity('typed-router'),
      cache,
      logger: silentLogger(),
    });
    const { protos: meshProtos } = loadMeshProtos();
    const channel = routed.channel({ type: 'translator', labelSelector: 'a=yes' });
    const agent: AgentClient = new meshProtos.agentmesh.v1.Agent(
      channel.target,
      channel.credentials,
      channel.options,
    );
    try {
      const chunks: string[] = [];
      for await (const chunk of agent.InvokeStream({
        method: 'count',
        payload: Buffer.from(''),
        contentType: '',
      }))
        chunks.push((chunk as InvokeResponse__Output).payload.toString());
      expect(chunks.map((chunk) => chunk.split(':')[1])).toEqual(['1', '2', '3']);
      expect(new Set(chunks.map((chunk) => chunk.split(':')[0])).size).toBe(1);
    } finally {
      agent.close();
      routed.close();
    }
  });

  it('fails a typed call to a query no agent matches with UNAVAILABLE, saying so', async () => {
    const identity = await mesh.identity('typed-router');
    const seen = recorder();
    const routed = new MeshClient({ identity, cache, logger: silentLogger(), observer: seen });
    const channel = routed.channel({ type: 'nobody' });
    const typed: TranslatorClient = new protos.demo.v1.Translator(
      channel.target,
      channel.credentials,
      channel.options,
    );
    try {
      const error = await new Promise<grpc.ServiceError>((resolve) =>
        typed.Translate({ text: 'x', targetLanguage: 'fr' }, (failure) => resolve(failure!)),
      );
      expect(error.code).toBe(Code.UNAVAILABLE);
      expect(error.details).toMatch(/no healthy agent for type nobody/);
    } finally {
      typed.close();
      routed.close();
    }
  });
});
