import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentService, type MethodHandler, type StreamHandler } from '../../src/agent/agent-service.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient, type MeshClientOptions } from '../../src/data-plane/mesh-client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { loadCaDir, loadTrustBundle } from '../../src/identity/certs-dir.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { startServer, type RunningServer } from '../../src/transport/server.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const text = (value: string) => ({ payload: Buffer.from(value), contentType: 'text/plain' });

describe('mesh client failure handling', () => {
  let mesh: TestMesh;
  let cache: EndpointCache;
  let client: MeshClient;
  const servers: RunningServer[] = [];
  const clients: MeshClient[] = [];
  const gates: Array<() => void> = [];

  /** Starts a real agent server for `name` with the given handlers and registers it as `type`. */
  async function serve(
    name: string,
    type: string,
    methods: Record<string, MethodHandler>,
    streams: Record<string, StreamHandler> = {},
  ): Promise<void> {
    const identity = await mesh.identity(name, [type]);
    const server = await startServer({
      identity,
      services: [createAgentService({ identity, logger: silentLogger(), methods, streams })],
    });
    servers.push(server);
    await (await mesh.client(name, [type])).register({ type, name, endpoint: server.address }, 60_000);
  }

  /** Registers `name` as `type` at an address where nothing listens (its process died, its lease lives on). */
  async function registerUnreachable(name: string, type: string): Promise<void> {
    await (await mesh.client(name, [type])).register({ type, name, endpoint: '127.0.0.1:1' }, 60_000);
  }

  async function newClient(name: string, options: Partial<MeshClientOptions> = {}): Promise<MeshClient> {
    const created = new MeshClient({
      identity: await mesh.identity(name),
      cache,
      logger: silentLogger(),
      ...options,
    });
    clients.push(created);
    return created;
  }

  beforeAll(async () => {
    mesh = await startTestMesh();
    cache = new EndpointCache({ client: await mesh.client('caller'), logger: silentLogger() });
    await cache.start();
    client = await newClient('caller');
  });

  afterAll(async () => {
    for (const open of gates) open();
    for (const each of clients) each.close();
    cache?.close();
    await Promise.all(servers.map((server) => server.shutdown(0)));
    await mesh?.close();
  });

  it('runs the handler of a non-idempotent call exactly once when it fails with a downstream connection error', async () => {
    let runs = 0;
    await registerUnreachable('ledger-1', 'ledger');
    const downstream = await newClient('payer');
    const charge: MethodHandler = async () => {
      runs += 1; // e.g. a card was charged
      await downstream.call({ type: 'ledger' }, 'record', 'x'); // cannot connect: UNAVAILABLE
      return text('charged');
    };
    await serve('payer-1', 'payer', { charge });
    await serve('payer-2', 'payer', { charge });
    await until(
      () => cache.select({ type: 'payer' }).length === 2 && cache.select({ type: 'ledger' }).length === 1,
    );

    const error = await client.call({ type: 'payer' }, 'charge', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe(Code.UNAVAILABLE);
    expect((error as MeshError).message).toMatch(/no connection could be made/); // the server's own text, from its own failed call
    expect(runs).toBe(1);
  });

  it('still moves a non-idempotent call on from an instance it could not connect to', async () => {
    await registerUnreachable('mixed-dead', 'mixed');
    await serve('mixed-live', 'mixed', { ping: async () => text('mixed-live') });
    await until(() => cache.select({ type: 'mixed' }).length === 2);
    const results = [];
    for (let i = 0; i < 4; i += 1) {
      results.push(await client.call({ type: 'mixed' }, 'ping', 'x', { balancer: 'round-robin' }));
    }
    expect(results.map((result) => result.agent.id)).toEqual(Array(4).fill('mixed-live'));
    expect(results.some((result) => result.attempts === 2)).toBe(true); // round-robin did pick the dead one
  });

  it('ends with the last MeshError when the other instance leaves during a failover', async () => {
    const reached = gate();
    const release = gate();
    gates.push(release.open);
    let holder: string | undefined;
    // Whichever instance the call reaches first holds it, then answers UNAVAILABLE; the other one answers.
    const ping =
      (name: string): MethodHandler =>
      async () => {
        if (holder !== undefined && holder !== name) return text(name);
        holder = name;
        reached.open();
        await release.promise;
        throw new MeshError(Code.UNAVAILABLE, 'overloaded');
      };
    await serve('leave-1', 'leave', { ping: ping('leave-1') });
    await serve('leave-2', 'leave', { ping: ping('leave-2') });
    await until(() => cache.select({ type: 'leave' }).length === 2);
    const outcome = client
      .call({ type: 'leave' }, 'ping', 'x', { idempotent: true, balancer: 'round-robin' })
      .catch((e: unknown) => e);
    await reached.promise;
    const other = holder === 'leave-1' ? 'leave-2' : 'leave-1';
    await (await mesh.client(other)).deregister(other);
    await until(() => cache.get(other) === undefined);
    release.open();
    const error = await outcome;
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe(Code.UNAVAILABLE);
    expect((error as MeshError).message).toBe('overloaded');
  });

  it('ejects at most half of a small target, however many instances other targets have', async () => {
    for (const name of ['big-1', 'big-2', 'big-3', 'big-4'])
      await serve(name, 'big', { ping: async () => text(name) });
    await registerUnreachable('small-1', 'small');
    await registerUnreachable('small-2', 'small');
    await until(
      () => cache.select({ type: 'big' }).length === 4 && cache.select({ type: 'small' }).length === 2,
    );
    const ejecting = await newClient('eject-caller', { outliers: { consecutiveFailures: 2 } });
    await ejecting.call({ type: 'big' }, 'ping', 'x'); // the client now knows six instances
    const failures = [];
    for (let i = 0; i < 10; i += 1) {
      failures.push(
        await ejecting
          .call({ type: 'small' }, 'ping', 'x', { idempotent: true, balancer: 'round-robin' })
          .catch((e: unknown) => e),
      );
    }
    const outliers = (ejecting as unknown as { loop: { outliers: { ejected(): ReadonlySet<string> } } }).loop
      .outliers;
    expect([...outliers.ejected()].filter((id) => id.startsWith('small'))).toHaveLength(1);
    expect(failures.every((failure) => failure instanceof MeshError)).toBe(true);
  });

  describe('streams', () => {
    const hold = gate();

    beforeAll(async () => {
      gates.push(hold.open);
      for (const name of ['gen-1', 'gen-2']) {
        await serve(
          name,
          'gen',
          { ping: async () => text(name) },
          {
            ticks: async function* () {
              for (let i = 0; i < 6; i += 1) yield text(`${name}:${i}`);
            },
            held: async function* () {
              yield text(name);
              await hold.promise;
            },
          },
        );
      }
      await until(() => cache.select({ type: 'gen' }).length === 2);
      // Connected to both before a stream is timed: the idle timeout also bounds the wait for the first chunk.
      const reached = new Set<string>();
      await until(async () => {
        reached.add((await client.call({ type: 'gen' }, 'ping', 'x', { balancer: 'round-robin' })).agent.id);
        return reached.size === 2;
      }, 'connections to both gen instances');
    });

    it('does not count the consumer’s own time between chunks toward the idle timeout', async () => {
      const chunks: string[] = [];
      // The agent sends its six chunks at once; the consumer spends longer than the idle timeout on each.
      for await (const chunk of client.stream({ type: 'gen' }, 'ticks', '', { idleTimeoutMs: 1_000 })) {
        chunks.push(chunk.payload.toString());
        await new Promise((resolve) => setTimeout(resolve, 1_100)); // the consumer's own time, not a wait
      }
      expect(chunks).toHaveLength(6);
    });

    it('ends with DEADLINE_EXCEEDED when the agent stays silent for the idle timeout', async () => {
      const chunks: string[] = [];
      const error = await (async () => {
        for await (const chunk of client.stream({ type: 'gen' }, 'held', '', { idleTimeoutMs: 1_000 })) {
          chunks.push(chunk.payload.toString());
        }
      })().catch((e: unknown) => e);
      expect(chunks).toHaveLength(1);
      expect((error as MeshError).code).toBe(Code.DEADLINE_EXCEEDED);
    });

    it('counts an open stream as a call in flight until it ends', async () => {
      const balancing = await newClient('lc-caller');
      const stream = balancing.stream({ type: 'gen' }, 'held', '', { balancer: 'least-connections' });
      const first = await stream.next();
      const busy = (first.value as { payload: Buffer }).payload.toString();
      const answered = new Set<string>();
      for (let i = 0; i < 6; i += 1) {
        const result = await balancing.call({ type: 'gen' }, 'ping', 'x', { balancer: 'least-connections' });
        answered.add(result.agent.id);
      }
      expect([...answered]).toEqual([busy === 'gen-1' ? 'gen-2' : 'gen-1']);
      await stream.return(undefined);
      for (let i = 0; i < 6; i += 1) {
        const result = await balancing.call({ type: 'gen' }, 'ping', 'x', { balancer: 'least-connections' });
        answered.add(result.agent.id);
      }
      expect(answered.size).toBe(2); // once it ended, the instance is free again
    });

    it('fails over past an unreachable instance and counts its failures toward ejection', async () => {
      await registerUnreachable('sgen-dead', 'sgen');
      await serve(
        'sgen-live',
        'sgen',
        { ping: async () => text('sgen-live') },
        {
          three: async function* () {
            yield text('sgen-live');
          },
        },
      );
      await until(() => cache.select({ type: 'sgen' }).length === 2);
      const streaming = await newClient('sgen-caller', { outliers: { consecutiveFailures: 2 } });
      for (let i = 0; i < 4; i += 1) {
        const chunks: string[] = [];
        for await (const chunk of streaming.stream({ type: 'sgen' }, 'three', '', {
          balancer: 'round-robin',
        })) {
          chunks.push(chunk.payload.toString());
        }
        expect(chunks).toEqual(['sgen-live']);
      }
      // The streams' failures ejected the dead instance: calls no longer try it.
      const result = await streaming.call({ type: 'sgen' }, 'ping', 'x', { balancer: 'round-robin' });
      expect(result.attempts).toBe(1);
      const again = await streaming.call({ type: 'sgen' }, 'ping', 'x', { balancer: 'round-robin' });
      expect(again.attempts).toBe(1);
    });
  });

  it('refuses calls after close() with FAILED_PRECONDITION and opens no channel', async () => {
    await serve('closing-1', 'closing', { ping: async () => text('closing-1') });
    await until(() => cache.select({ type: 'closing' }).length === 1);
    const closing = await newClient('closing-caller');
    await closing.call({ type: 'closing' }, 'ping', 'x');
    closing.close();
    const error = await closing.call({ type: 'closing' }, 'ping', 'x').catch((e: unknown) => e);
    expect((error as MeshError).code).toBe(Code.FAILED_PRECONDITION);
    const streamError = await closing
      .stream({ type: 'closing' }, 'three', '')
      .next()
      .catch((e: unknown) => e);
    expect((streamError as MeshError).code).toBe(Code.FAILED_PRECONDITION);
    expect((closing as unknown as { pool: { members: Map<string, unknown> } }).pool.members.size).toBe(0);
  });

  it('answers an unknown balancer with INVALID_ARGUMENT naming the strategies, and keeps working', async () => {
    await serve('strategy-1', 'strategy', { ping: async () => text('strategy-1') });
    await until(() => cache.select({ type: 'strategy' }).length === 1);
    const error = await client
      .call({ type: 'strategy' }, 'ping', 'x', { balancer: 'random' as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshError);
    expect((error as MeshError).code).toBe(Code.INVALID_ARGUMENT);
    expect((error as MeshError).message).toMatch(/"random".*round-robin.*consistent-hash/);
    const again = await client
      .call({ type: 'strategy' }, 'ping', 'x', { balancer: 'random' as never })
      .catch((e: unknown) => e);
    expect((again as MeshError).code).toBe(Code.INVALID_ARGUMENT); // no broken entry left behind
    expect((await client.call({ type: 'strategy' }, 'ping', 'x')).agent.id).toBe('strategy-1');
  });

  it('keeps calling past its first certificate’s expiry after a renewal; calls in flight finish', async () => {
    const slowCalled = gate();
    const slowRelease = gate();
    gates.push(slowRelease.open);
    await serve('renew-echo', 'renew', {
      ping: async () => text('renew-echo'),
      slow: async () => {
        slowCalled.open();
        await slowRelease.promise;
        return text('slow');
      },
    });
    await until(() => cache.select({ type: 'renew' }).length === 1);
    const ca = await loadCaDir(mesh.certsDir);
    const short = await ca.issue('renewing', { ttlMs: 5_000 });
    const identity = new MeshIdentity({
      ...short,
      trustBundlePem: (await loadTrustBundle(mesh.certsDir)).pem,
    });
    const firstExpiry = identity.expiresAt;
    const renewing = await newClient('renewing', { identity });
    await renewing.call({ type: 'renew' }, 'ping', 'x'); // a connection with the short-lived certificate
    const slow = renewing.call({ type: 'renew' }, 'slow', 'x', { timeoutMs: 30_000 });
    await slowCalled.promise;

    const renewed = await ca.issue('renewing');
    identity.update({
      ...identity.current,
      certificatePem: renewed.certificatePem,
      privateKeyPem: renewed.privateKeyPem,
    });
    slowRelease.open();
    expect((await slow).payload.toString()).toBe('slow'); // the old connection let its call finish

    await until(() => Date.now() > firstExpiry + 500); // the first certificate is no longer valid
    for (let i = 0; i < 3; i += 1) {
      expect((await renewing.call({ type: 'renew' }, 'ping', 'x')).payload.toString()).toBe('renew-echo');
    }
  });
});
