import type * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient } from '../../src/data-plane/mesh-client.js';
import { meshChannel } from '../../src/data-plane/mesh-resolver.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadProtos } from '../../src/transport/protos.js';
import type { TranslatorClient } from '../fixtures/generated/demo/v1/Translator.js';
import type { ProtoGrpcType as TranslatorProtos } from '../fixtures/generated/translator.js';
import { spawnScript } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const TWO_AGENTS = fileURLToPath(new URL('./two-agents-on-signal.ts', import.meta.url));

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('draining an agent', () => {
  let mesh: TestMesh;
  let cache: EndpointCache;
  let client: MeshClient;
  const agents: RunningAgent[] = [];
  const typedClients: TranslatorClient[] = [];
  const { protos } = loadProtos<TranslatorProtos>(
    ['translator.proto'],
    [new URL('../fixtures/proto', import.meta.url).pathname],
  );

  beforeAll(async () => {
    mesh = await startTestMesh();
    cache = new EndpointCache({ client: await mesh.client('drain-caller'), logger: silentLogger() });
    await cache.start();
    client = new MeshClient({ identity: await mesh.identity('drain-caller'), cache, logger: silentLogger() });
  });

  afterAll(async () => {
    for (const typed of typedClients) typed.close();
    client?.close();
    cache?.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  it('waits for an in-flight call to a typed service before it deregisters and stops', async () => {
    const held = gate();
    const started = gate();
    const agent = await startAgent({
      identity: await mesh.identity('typed-slow-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'typed-slow',
      leaseTtlMs: 3_000,
      services: [
        {
          name: 'demo.v1.Translator',
          definition: protos.demo.v1.Translator.service,
          implementation: {
            Translate: (
              call: grpc.ServerUnaryCall<{ text: string }, unknown>,
              callback: grpc.sendUnaryData<unknown>,
            ) => {
              started.open();
              void held.promise.then(() => callback(null, { text: `done ${call.request.text}` }));
            },
          },
        },
      ],
    });
    agents.push(agent);
    await until(() => cache.select({ type: 'typed-slow' }).length === 1, 'the agent is registered');
    const channel = meshChannel(await mesh.identity('drain-caller'), cache, { type: 'typed-slow' });
    const typed = new protos.demo.v1.Translator(channel.target, channel.credentials, channel.options);
    typedClients.push(typed);
    const reply = new Promise<string>((resolve, reject) =>
      typed.Translate({ text: 'x', targetLanguage: 'fr' }, { deadline: Date.now() + 30_000 }, (error, r) =>
        error || !r ? reject(error) : resolve(r.text),
      ),
    );
    await started.promise;
    let drained = false;
    const draining = agent.drain(30_000).then(() => (drained = true));
    await until(
      () => cache.get('typed-slow-1')?.health !== 'healthy',
      'the agent reports draining (or, wrongly, leaves)',
    );
    // While the typed call runs, the drain holds: the agent neither deregisters nor stops.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(drained).toBe(false);
    expect(cache.get('typed-slow-1')).toBeDefined();
    held.open();
    expect(await reply).toBe('done x');
    await draining;
    await until(() => cache.get('typed-slow-1') === undefined, 'the agent has left the registry');
  });

  it('ends a stream handler whose caller cancels while its writes are backed up', async () => {
    let produced = 0;
    let handlerEnded = false;
    const agent = await startAgent({
      identity: await mesh.identity('firehose-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'firehose',
      streams: {
        flood: async function* () {
          try {
            for (;;) {
              produced += 1;
              yield { payload: Buffer.alloc(256 * 1024, 1), contentType: 'application/octet-stream' };
            }
          } finally {
            handlerEnded = true;
          }
        },
      },
    });
    agents.push(agent);
    await until(() => cache.select({ type: 'firehose' }).length === 1, 'the agent is registered');
    const iterator = client.stream({ type: 'firehose' }, 'flood', '')[Symbol.asyncIterator]();
    await iterator.next();
    // The consumer reads no further: the handler fills the buffers and then waits for them to drain.
    let last = -1;
    let steady = 0;
    await until(() => {
      steady = produced === last ? steady + 1 : 0;
      last = produced;
      return steady >= 20;
    }, 'the handler is held up by backpressure');
    expect(handlerEnded).toBe(false);
    await iterator.return?.(undefined); // the consumer stops: the call is cancelled
    await until(() => handlerEnded, "the handler's finally has run");
    await agent.drain(10_000);
  });

  it('forgets the signal handler of an agent that drained for another reason', async () => {
    const before = process.listenerCount('SIGTERM');
    const beforeInt = process.listenerCount('SIGINT');
    const agent = await startAgent({
      identity: await mesh.identity('signalled-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'signalled',
      handleSignals: true,
    });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await agent.drain(0);
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt);
  });

  it('on SIGTERM drains every agent of the process and exits only when all are done', async () => {
    await mesh.identity('held-1');
    await mesh.identity('idle-1');
    const child = spawnScript(TWO_AGENTS, [mesh.certsDir, mesh.controlPlane.address]);
    try {
      await child.waitFor(/ready/);
      await until(() => cache.select({ type: 'held' }).length === 1, 'the held agent is registered');
      const call = client.call({ type: 'held' }, 'hold', '', { timeoutMs: 60_000 });
      await child.waitFor(/holding/);
      const exited = child.stop('SIGTERM');
      // The idle agent finishes first; the process must stay until the busy one has answered.
      await child.waitFor(/idle-1 drained/);
      void child.stop('SIGUSR2'); // lets the held call answer
      expect((await call).payload.toString()).toBe('released');
      expect(await exited).toBe(0);
    } finally {
      await child.stop('SIGKILL');
    }
  });
});
