import { createUser } from '@nats-io/jwt';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { SubscriptionOptions } from '../../src/agent/agent-options.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { encodeEvent } from '../../src/transport/delivery-codec.js';
import { eventToWire, type ReceivedEvent } from '../../src/pubsub/event.js';
import { connectToEventStore } from '../../src/nats/nats-connection.js';
import { EVENT_STREAM, eventSubject } from '../../src/nats/subjects.js';
import { natsBinary, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { makeCertsDir } from '../helpers/processes.js';
import { conventionalType } from '../helpers/test-ca.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';
import { runEntryPoint } from '../helpers/run-cli.js';

/**
 * Durable events, in process, on a real three-node NATS cluster configured as `agent-mesh ca nats` configures one
 * (operator JWTs, TLS from the mesh CA): what a publish promises, what handlers' outcomes do, per-key order, and what
 * NATS itself refuses an agent that talks to it directly.
 */
describe.skipIf(!natsBinary)('durable events on NATS JetStream', () => {
  let certs: { dir: string; remove(): Promise<void> };
  let nats: NatsCluster;
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];

  const agent = async (name: string, subscriptions: SubscriptionOptions[] = []) => {
    const started = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: conventionalType(name),
      subscriptions,
      publisher: { backoffMs: 20, maxBackoffMs: 200 },
    });
    agents.push(started);
    return started;
  };

  beforeAll(async () => {
    certs = await makeCertsDir();
    nats = await startNatsCluster({ size: 3, certsDir: certs.dir });
    mesh = await startTestMesh({ certsDir: certs.dir, events: { servers: nats.urls } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
    await nats?.stop();
    await certs?.remove();
  });

  it('accepts a publish once a replicated stream stored it, and stores a retried publish once', async () => {
    const seen = collector<ReceivedEvent>();
    await agent('ledger-1', [{ pattern: 'payments.*', handler: (event) => void seen.push(event) }]);
    const source = await agent('till-1');
    expect(source.durableEvents).toBeDefined();

    const first = await source.publish('payments.made', { amount: 3 }, { eventId: 'payment-1' });
    const again = await source.publish('payments.made', { amount: 3 }, { eventId: 'payment-1' });
    expect(first).toMatchObject({ eventId: 'payment-1', accepted: true, subscriptions: 1, duplicate: false });
    expect(again).toMatchObject({ eventId: 'payment-1', sequence: first.sequence, duplicate: true });

    // The largest payload the mesh takes by default (1 MiB) fits in a NATS message too.
    const large = await source.publish('payments.batch', Buffer.alloc(1024 * 1024, 1));
    expect((await seen.next((e) => e.id === large.eventId)).payload.length).toBe(1024 * 1024);
    const event = await seen.next((e) => e.id === 'payment-1');
    expect(event).toMatchObject({
      topic: 'payments.made',
      publisher: source.identity.spiffeId.uri,
      attempt: 1,
      context: { chain: [source.identity.spiffeId.uri] },
    });
    expect(JSON.parse(event.payload.toString())).toEqual({ amount: 3 });
    const stream = await (await mesh.controlPlane.eventStore!.manager()).streams.info(EVENT_STREAM);
    expect(stream.config.num_replicas).toBe(3);
    expect(stream.cluster?.replicas?.length).toBe(2);
  });

  it('gives a subscription added to a running agent its own consumer, and stops reading one removed', async () => {
    const seen = collector<ReceivedEvent>();
    const late = await agent('latecomer-1');
    const source = await agent('herald-1');
    expect((await source.publish('late.news', 'before')).subscriptions).toBe(0);
    const unsubscribe = await late.subscribe('late.*', (event) => void seen.push(event));
    expect(late.durableEvents!.grant.consumers.map((c) => c.pattern)).toEqual(['late.*']);
    await until(
      () => source.cache.get('latecomer-1')?.spec.subscriptions.length === 1,
      'the publisher sees it',
    );
    const first = await source.publish('late.news', 'one');
    expect(first.subscriptions).toBe(1);
    await seen.next((e) => e.id === first.eventId);
    await unsubscribe();
    expect(late.durableEvents!.grant.consumers).toEqual([]);
  });

  it('serves an agent with many subscriptions (its credentials name every consumer)', async () => {
    const seen = collector<ReceivedEvent>();
    const patterns = Array.from({ length: 24 }, (_, i) => `many.topic${i}.*`);
    await agent(
      'collector-1',
      patterns.map((pattern) => ({ pattern, handler: (event: ReceivedEvent) => void seen.push(event) })),
    );
    const source = await agent('sprayer-1');
    const last = await source.publish('many.topic23.done', 'last');
    await seen.next((e) => e.id === last.eventId);
  });

  it('redelivers on retry, dead-letters a drop and an event out of attempts, with the reason', async () => {
    const letters = collector<ReceivedEvent>();
    const attempts = new Map<string, number>();
    await agent('auditor-1', [
      { pattern: 'dead-letter.jobs.>', handler: (event) => void letters.push(event) },
    ]);
    await agent('runner-1', [
      {
        pattern: 'jobs.*',
        handler: (event) => {
          attempts.set(event.id, event.attempt);
          if (event.topic === 'jobs.flaky' && event.attempt < 3) return { outcome: 'retry', afterMs: 10 };
          if (event.topic === 'jobs.poison') return { outcome: 'drop', reason: 'cannot parse the job' };
          if (event.topic === 'jobs.broken') throw new Error('the job crashed its handler');
          return undefined;
        },
      },
    ]);
    const source = await agent('scheduler-1');
    const flaky = await source.publish('jobs.flaky', 'f');
    const poison = await source.publish('jobs.poison', 'p');
    const broken = await source.publish('jobs.broken', 'b');

    const dropped = await letters.next((e) => e.deadLetter?.originalEventId === poison.eventId);
    expect(dropped).toMatchObject({
      topic: 'dead-letter.jobs.poison',
      deadLetter: {
        reason: 'cannot parse the job',
        attempts: 1,
        pattern: 'jobs.*',
        originalTopic: 'jobs.poison',
      },
    });
    const exhausted = await letters.next((e) => e.deadLetter?.originalEventId === broken.eventId);
    expect(exhausted.deadLetter).toMatchObject({ reason: 'the job crashed its handler', attempts: 5 });
    expect(attempts.get(broken.eventId)).toBe(5);
    await until(() => attempts.get(flaky.eventId) === 3, 'the flaky job handled on its third attempt');
    expect(letters.items.some((e) => e.deadLetter?.originalEventId === flaky.eventId)).toBe(false);
  });

  it('shows topics, lag and dead letters, and replays one, from the CLI', async () => {
    const flags = (name: string) => [
      '--certs',
      certs.dir,
      '--name',
      name,
      '--control-plane',
      mesh.controlPlane.address,
    ];
    const replays = collector<ReceivedEvent>();
    await agent('repairer-1', [
      {
        pattern: 'repairs.*',
        handler: (event) => {
          // The original delivery fails for good; the replay is handled.
          if (event.publisher !== mesh.controlPlane.identity.spiffeId.uri)
            return { outcome: 'drop', reason: 'parts missing' };
          replays.push(event);
          return undefined;
        },
      },
    ]);
    const desk = await agent('desk-1');
    const broken = await desk.publish('repairs.requested', { unit: 7 });
    const admin = await mesh.client('control-plane');
    await until(
      async () => (await admin.listDeadLetters({ topic: 'repairs.requested' })).length === 1,
      'the dead letter stored',
    );

    const listed = await runEntryPoint('agent-mesh', ['events', 'list', '--json', ...flags('control-plane')]);
    expect(listed.code, listed.stderr).toBe(0);
    const described = JSON.parse(listed.stdout) as {
      topics: { topic: string }[];
      consumers: { pattern: string; subscribers: string[] }[];
    };
    expect(described.topics.map((t) => t.topic)).toEqual(
      expect.arrayContaining(['repairs.requested', 'dead-letter.repairs.requested']),
    );
    expect(described.consumers).toContainEqual(
      expect.objectContaining({
        pattern: 'repairs.*',
        subscribers: ['spiffe://agentmesh.local/agent/repairer-1'],
      }),
    );
    const table = await runEntryPoint('agent-mesh', [
      'events',
      'dead-letters',
      '--topic',
      'repairs.requested',
      ...flags('control-plane'),
    ]);
    expect(table.stdout).toMatch(/SEQ\s+TOPIC\s+EVENT ID/);
    expect(table.stdout).toContain('parts missing');
    const letters = await runEntryPoint('agent-mesh', [
      'events',
      'dead-letters',
      '--json',
      ...flags('control-plane'),
    ]);
    const letter = (
      JSON.parse(letters.stdout) as { sequence: number; deadLetter: { originalEventId: string } }[]
    ).find((l) => l.deadLetter.originalEventId === broken.eventId)!;
    const replayed = await runEntryPoint('agent-mesh', [
      'events',
      'replay',
      String(letter.sequence),
      ...flags('control-plane'),
    ]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout)).toMatchObject({
      eventId: broken.eventId,
      topic: 'repairs.requested',
    });
    const again = await replays.next((e) => e.id === broken.eventId);
    expect(JSON.parse(again.payload.toString())).toEqual({ unit: 7 });

    // Replayed only as the subscriber that gave up on it stored it: a letter stored under one subscriber's subject
    // naming another, or on another topic than its subject's, is refused; an event that is no dead letter is not found.
    const store = mesh.controlPlane.eventStore!;
    const repairer = 'spiffe://agentmesh.local/agent/repairer-1';
    const desk1 = 'spiffe://agentmesh.local/agent/desk-1';
    const letterOf = (publisher: string, subscriber: string, topic = 'dead-letter.repairs.requested') =>
      encodeEvent(
        eventToWire({
          id: `forged-${subscriber}-${topic}`,
          topic,
          publisher,
          publishedAt: Date.now(),
          payload: Buffer.from('{}'),
          contentType: 'application/json',
          key: '',
          context: { chain: [publisher] },
          deadLetter: {
            originalEventId: 'original-1',
            originalTopic: 'repairs.requested',
            reason: 'forged',
            attempts: 1,
            subscriber,
            pattern: 'repairs.*',
            group: '',
            deadLetteredAt: Date.now(),
          },
        }),
      );
    let forged = 0;
    const refused = async (publisher: string, topic: string, bytes: Uint8Array) => {
      forged += 1;
      const sequence = await store.storeAs(publisher, topic, bytes, `forged-${forged}`);
      return admin.replayDeadLetter(sequence).then(
        () => undefined,
        (error: MeshError) => error,
      );
    };
    const naming = await refused(repairer, 'dead-letter.repairs.requested', letterOf(repairer, desk1));
    expect(naming).toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect(naming?.message).toMatch(/must come from the subscriber it names.*not replayed/);
    const elsewhere = await refused(repairer, 'dead-letter.repairs.done', letterOf(repairer, repairer));
    expect(elsewhere).toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect(elsewhere?.message).toMatch(/not its subject's/);
    const plain = await refused(desk1, 'repairs.requested', letterOf(desk1, desk1, 'repairs.requested'));
    expect(plain).toMatchObject({ code: Code.NOT_FOUND });

    // Only administrators may read or replay the store; a bad sequence is a usage error.
    await mesh.identity('nosy-1');
    const nosy = await runEntryPoint('agent-mesh', ['events', 'list', ...flags('nosy-1')]);
    expect(nosy.code).toBe(1);
    expect(nosy.stderr).toMatch(/may not read or replay the event store/);
    const bad = await runEntryPoint('agent-mesh', ['events', 'replay', 'first', ...flags('control-plane')]);
    expect(bad.code).toBe(2);
  });

  it("keeps each key's events in publish order through a redelivery, without holding up other keys", async () => {
    const handled: string[] = [];
    const tried = new Set<string>();
    let bDone: () => void = () => undefined;
    const allOfB = new Promise<void>((resolve) => (bDone = resolve));
    await agent('bookkeeper-1', [
      {
        pattern: 'entries.*',
        handler: async (event) => {
          const text = event.payload.toString();
          // The first event of key a holds its key until every event of key b is handled (they would never be,
          // were key b held up behind it), then fails once: key a's later events must wait for its redelivery.
          if (text === 'a0' && !tried.has(text)) {
            tried.add(text);
            await allOfB;
            return { outcome: 'retry', afterMs: 10 };
          }
          handled.push(text);
          if (text === 'b4') bDone();
          return undefined;
        },
      },
    ]);
    const source = await agent('cashier-1');
    for (let i = 0; i < 5; i += 1) {
      await source.publish('entries.posted', `a${i}`, { key: 'a' });
      await source.publish('entries.posted', `b${i}`, { key: 'b' });
    }
    await until(() => handled.length === 10, 'every entry handled');
    expect(handled.filter((t) => t.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(handled.filter((t) => t.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    // Key b went on while key a waited for its redelivery.
    expect(handled.indexOf('b1')).toBeLessThan(handled.indexOf('a0'));
  });

  it('refuses, on NATS itself, a forged publisher, a refused topic and reading what is not yours', async () => {
    const admin = await mesh.client('control-plane');
    const watched = collector<ReceivedEvent>();
    const vault = await agent('vault-1', [{ pattern: 'vault.>', handler: (e) => void watched.push(e) }]);
    const rogue = await agent('rogue-1');
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'no-rogue-vault',
          effect: 'deny',
          actions: ['publish'],
          callers: [rogue.identity.spiffeId.uri],
          callerTypes: [],
          targetTypes: [],
          methods: [],
          topics: ['vault.open'],
        },
      ],
    });
    await until(() => rogue.cache.policies.rules.length === 1, 'the policies reach the rogue');
    const refused = (await rogue.publish('vault.open', 'x').catch((e: unknown) => e)) as MeshError;
    expect(refused.code).toBe(Code.PERMISSION_DENIED);

    // The rogue skips the mesh's library and talks to NATS with its own, valid credentials.
    const key = createUser();
    const client = await mesh.client('rogue-1');
    const grant = (await client.getEventStore({ userPublicKey: key.getPublicKey() }))!;
    const nc = await connectToEventStore({
      identity: rogue.identity,
      servers: grant.servers,
      serverIdentity: grant.serverIdentity,
      credentials: () => ({ jwt: grant.userJwt, seed: key.getSeed() }),
      inboxPrefix: grant.inboxPrefix,
      name: 'rogue',
    });
    try {
      const js = jetstream(nc, { timeout: 5_000 });
      const bytes = (publisher: string, topic: string) =>
        encodeEvent(
          eventToWire({
            id: `forged-${topic}`,
            topic,
            publisher,
            publishedAt: Date.now(),
            payload: Buffer.from('forged'),
            contentType: 'text/plain',
            key: '',
            context: { chain: [] },
          }),
        );
      const vaultUri = vault.identity.spiffeId.uri;
      const rogueUri = rogue.identity.spiffeId.uri;
      // Under the vault's own subject: NATS refuses (the rogue may publish only under its own).
      await expect(
        js.publish(eventSubject(vaultUri, 'vault.open'), bytes(vaultUri, 'vault.open')),
      ).rejects.toThrow(/permission/i);
      // Under its own subject, to a topic the policies refuse it: NATS refuses too.
      await expect(
        js.publish(eventSubject(rogueUri, 'vault.open'), bytes(rogueUri, 'vault.open')),
      ).rejects.toThrow(/permission/i);
      // Dead letters only of topics its own subscriptions receive (it has none).
      await expect(
        js.publish(
          eventSubject(rogueUri, 'dead-letter.vault.audit'),
          bytes(rogueUri, 'dead-letter.vault.audit'),
        ),
      ).rejects.toThrow(/permission/i);
      // Reading the stream's subjects directly, or another identity's consumer: refused.
      const sniff = nc.subscribe('am.ev.>');
      const closed = sniff.closed.then(
        (error) => String(error ?? 'closed without an error'),
        (error: unknown) => String(error),
      );
      expect(await closed).toMatch(/permission/i);
      const vaultConsumer = vault.durableEvents!.grant.consumers[0]!.consumer;
      await expect(
        js.consumers.get(EVENT_STREAM, vaultConsumer).then((c) => c.next({ expires: 1_000 })),
      ).rejects.toThrow(/permission/i);
      // Its own subject and an allowed topic, but naming the vault as publisher inside: stored, never handled.
      await js.publish(eventSubject(rogueUri, 'vault.audit'), bytes(vaultUri, 'vault.audit'));
    } finally {
      await nc.close();
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
    }
    await until(() => vault.cache.policies.rules.length === 0, 'the policies reset');
    const honest = await agent('clerk-1');
    const report = await honest.publish('vault.audit', 'honest');
    await watched.next((e) => e.id === report.eventId);
    expect(watched.items.map((e) => e.payload.toString())).toEqual(['honest']);
  });
});
