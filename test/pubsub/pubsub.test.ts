import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent, type SubscriptionOptions } from '../../src/agent/agent-runtime.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { dropEvent, type ReceivedEvent } from '../../src/pubsub/event.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/** The MeshError `work` throws, or undefined when it throws nothing. */
async function thrown(work: () => unknown): Promise<MeshError | undefined> {
  try {
    await work();
    return undefined;
  } catch (error) {
    return error as MeshError;
  }
}

/** Publish/subscribe between real agents over mTLS, through the agent runtime. */
describe('publish/subscribe between agents', () => {
  let mesh: TestMesh;
  let publisher: RunningAgent;
  const agents: RunningAgent[] = [];

  async function agent(
    name: string,
    subscriptions: SubscriptionOptions[] = [],
    publisherOptions: Parameters<typeof startAgent>[0]['publisher'] = {},
  ): Promise<RunningAgent> {
    const running = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      subscriptions,
      publisher: publisherOptions,
    });
    agents.push(running);
    return running;
  }

  /** Waits until the publisher's registry knows every subscription of `subscriber`. */
  async function known(subscriber: RunningAgent, by = publisher): Promise<void> {
    const expected = subscriber.cache.get(subscriber.name)?.spec.subscriptions.length;
    await until(
      () =>
        by.cache.get(subscriber.name) !== undefined &&
        by.cache.get(subscriber.name)!.spec.subscriptions.length === expected,
      `${subscriber.name}'s subscriptions`,
      10_000,
    );
  }

  /** A handler that records what it received. */
  const recorder = () => {
    const received: ReceivedEvent[] = [];
    return { received, handler: (event: ReceivedEvent) => void received.push(event) };
  };

  beforeAll(async () => {
    mesh = await startTestMesh();
    publisher = await agent('publisher-1', [], { backoffMs: 20, maxBackoffMs: 200, maxAttempts: 3 });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
  });

  it('matches wildcards: * for one segment, > for the rest', async () => {
    const star = recorder();
    const rest = recorder();
    const exact = recorder();
    const a = await agent('wild-1', [{ pattern: 'orders.*', handler: star.handler }]);
    const b = await agent('wild-2', [{ pattern: 'orders.>', handler: rest.handler }]);
    const c = await agent('wild-3', [{ pattern: 'orders.created', handler: exact.handler }]);
    for (const subscriber of [a, b, c]) await known(subscriber);

    expect(await publisher.publish('orders.created', { n: 1 })).toMatchObject({
      accepted: true,
      subscriptions: 3,
    });
    expect(await publisher.publish('orders.eu.created', { n: 2 })).toMatchObject({ subscriptions: 1 });
    expect(await publisher.publish('orders', { n: 3 })).toMatchObject({ accepted: true, subscriptions: 0 });
    expect(await publisher.publisher.flush()).toBe(true);

    expect(star.received.map((e) => e.topic)).toEqual(['orders.created']);
    expect(rest.received.map((e) => e.topic)).toEqual(['orders.created', 'orders.eu.created']);
    expect(exact.received.map((e) => e.topic)).toEqual(['orders.created']);
    const event = exact.received[0]!;
    expect(event.publisher).toBe(publisher.identity.spiffeId.uri);
    expect(JSON.parse(event.payload.toString())).toEqual({ n: 1 });
    expect(event.contentType).toBe('application/json');
    expect(event.context.chain).toEqual([publisher.identity.spiffeId.uri]);
    expect(event.context.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('fans out to every subscriber, and splits among the members of a queue group', async () => {
    const solo = [recorder(), recorder()];
    const members = [recorder(), recorder(), recorder()];
    const subscribers = [
      ...(await Promise.all(
        solo.map((r, i) => agent(`fan-${i + 1}`, [{ pattern: 'jobs.>', handler: r.handler }])),
      )),
      ...(await Promise.all(
        members.map((r, i) =>
          agent(`crew-${i + 1}`, [{ pattern: 'jobs.*', group: 'crew', handler: r.handler }]),
        ),
      )),
    ];
    for (const subscriber of subscribers) await known(subscriber);
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 1) {
      const report = await publisher.publish('jobs.new', `job ${i}`);
      expect(report).toMatchObject({ subscriptions: 2, groups: 1 });
      ids.push(report.eventId);
    }
    expect(await publisher.publisher.flush()).toBe(true);
    for (const r of solo) expect(r.received.map((e) => e.id).sort()).toEqual([...ids].sort());
    const shares = members.map((r) => r.received.length);
    expect(shares.reduce((a, b) => a + b)).toBe(300);
    expect(new Set(members.flatMap((r) => r.received.map((e) => e.id))).size).toBe(300);
    for (const share of shares) expect(share).toBeGreaterThan(30);
  });

  it('takes turns among the members of a queue group when events come one at a time', async () => {
    const members = [recorder(), recorder(), recorder()];
    const crew = await Promise.all(
      members.map((r, i) =>
        agent(`turn-${i + 1}`, [{ pattern: 'turns.*', group: 'turns', handler: r.handler }]),
      ),
    );
    for (const subscriber of crew) await known(subscriber);
    // Each event is acknowledged before the next is published: every member has the same room every time.
    for (let i = 0; i < 30; i += 1) {
      await publisher.publish('turns.next', `turn ${i}`);
      expect(await publisher.publisher.flush()).toBe(true);
    }
    expect(members.map((r) => r.received.length)).toEqual([10, 10, 10]);
  });

  it('redelivers after a handler failure until it succeeds', async () => {
    const attempts = new Map<string, number[]>();
    const flaky = await agent('flaky-1', [
      {
        pattern: 'flaky.>',
        handler: (event) => {
          attempts.set(event.id, [...(attempts.get(event.id) ?? []), event.attempt]);
          if (event.attempt < 3) throw new Error(`not yet (attempt ${event.attempt})`);
        },
      },
    ]);
    await known(flaky);
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) ids.push((await publisher.publish('flaky.work', `w${i}`)).eventId);
    expect(await publisher.publisher.flush()).toBe(true);
    for (const id of ids) expect(attempts.get(id)).toEqual([1, 2, 3]);
  });

  it('dead-letters an event after the last attempt, with the reason, and replays it', async () => {
    let fixed = false;
    const handled: string[] = [];
    const broken = await agent('broken-1', [
      {
        pattern: 'fragile.*',
        handler: (event) => {
          if (!fixed) throw new Error('database unavailable');
          handled.push(event.id);
        },
      },
    ]);
    const letters = recorder();
    const inspector = await agent('inspector-1', [{ pattern: 'dead-letter.>', handler: letters.handler }]);
    const dropper = await agent('dropper-1', [
      { pattern: 'brittle.drop', handler: () => dropEvent('malformed order') },
    ]);
    for (const subscriber of [broken, inspector, dropper]) await known(subscriber);

    const { eventId } = await publisher.publish('fragile.thing', 'x', { key: 'k1' });
    const dropped = (await publisher.publish('brittle.drop', 'y')).eventId;
    await until(() => letters.received.length === 2, 'two dead letters', 10_000);
    const letter = letters.received.find((e) => e.deadLetter?.originalEventId === eventId)!;
    expect(letter.topic).toBe('dead-letter.fragile.thing');
    expect(letter.payload.toString()).toBe('x');
    expect(letter.key).toBe('k1');
    expect(letter.deadLetter).toMatchObject({
      originalTopic: 'fragile.thing',
      attempts: 3,
      subscriber: broken.identity.spiffeId.uri,
      pattern: 'fragile.*',
      group: '',
    });
    expect(letter.deadLetter!.reason).toMatch(/database unavailable \(after 3 attempts\)/);
    const drop = letters.received.find((e) => e.deadLetter?.originalEventId === dropped)!;
    expect(drop.deadLetter).toMatchObject({ reason: 'malformed order', attempts: 1 });

    fixed = true;
    expect(publisher.publisher.replay(letter)).toMatchObject({ eventId, subscriptions: 1 });
    await until(() => handled.includes(eventId), 'the replayed event', 10_000);
  });

  it('delivers the events of one ordering key in publish order, through failures', async () => {
    const seen = new Map<string, number[]>();
    const failedOnce = new Set<string>();
    const ordered = await agent('ordered-1', [
      {
        pattern: 'ledger.*',
        maxInFlight: 32,
        handler: async (event) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          const n = Number(event.payload.toString());
          if (n % 7 === 0 && !failedOnce.has(event.id)) {
            failedOnce.add(event.id);
            throw new Error('transient');
          }
          seen.set(event.key, [...(seen.get(event.key) ?? []), n]);
        },
      },
    ]);
    await known(ordered);
    const sent = new Map<string, number[]>();
    for (let n = 0; n < 200; n += 1) {
      const key = `account-${n % 4}`;
      await publisher.publish(n % 2 ? 'ledger.debit' : 'ledger.credit', String(n), { key });
      sent.set(key, [...(sent.get(key) ?? []), n]);
    }
    expect(await publisher.publisher.flush()).toBe(true);
    expect(failedOnce.size).toBeGreaterThan(0);
    for (const [key, numbers] of sent) expect(seen.get(key)).toEqual(numbers);
  });

  it('answers bad input clearly: invalid topic or pattern, oversized payload', async () => {
    const invalid = await thrown(() => publisher.publish('tasks..created', 'x'));
    expect(invalid?.code).toBe(Code.INVALID_ARGUMENT);
    expect(invalid?.message).toMatch(/invalid topic "tasks..created"/);
    const wildcard = await thrown(() => publisher.publish('tasks.*', 'x'));
    expect(wildcard?.code).toBe(Code.INVALID_ARGUMENT);
    const oversized = await thrown(() => publisher.publish('tasks.big', Buffer.alloc(1024 * 1024 + 1)));
    expect(oversized?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(oversized?.message).toMatch(/over the limit of 1048576 bytes/);
    const pattern = (await publisher
      .subscribe('tasks.>.x', () => undefined)
      .catch((e: unknown) => e)) as MeshError;
    expect(pattern.code).toBe(Code.INVALID_ARGUMENT);
    expect(pattern.message).toMatch(/invalid topic pattern/);
    expect(await publisher.publish('nobody.listens', 'x')).toMatchObject({
      accepted: true,
      subscriptions: 0,
      groups: 0,
    });
  });

  it('lets the policies decide who may publish and subscribe to which topics', async () => {
    const admin = await mesh.client('control-plane');
    const received = recorder();
    const listener = await agent('listener-1', [{ pattern: 'secret.>', handler: received.handler }]);
    await known(listener);
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [
        {
          id: 'no-secret-publishing',
          effect: 'deny',
          actions: ['publish'],
          callers: [publisher.identity.spiffeId.uri],
          callerTypes: [],
          targetTypes: [],
          methods: [],
          topics: ['secret.>'],
        },
        {
          id: 'no-audit-subscriptions',
          effect: 'deny',
          actions: ['subscribe'],
          callers: [],
          callerTypes: ['listener'],
          targetTypes: [],
          methods: [],
          topics: ['audit.>'],
        },
      ],
    });
    await until(() => agents.every((a) => a.cache.policies.rules.length === 2), 'the policies', 10_000);
    try {
      const denied = await thrown(() => publisher.publish('secret.plans', 'x'));
      expect(denied?.code).toBe(Code.PERMISSION_DENIED);
      expect(denied?.message).toMatch(/may not publish to "secret.plans" \(rule no-secret-publishing\)/);

      const subscribeDenied = (await listener
        .subscribe('audit.*', () => undefined)
        .catch((e: unknown) => e)) as MeshError;
      expect(subscribeDenied.code).toBe(Code.PERMISSION_DENIED);
      expect(subscribeDenied.message).toMatch(
        /may not subscribe to "audit.\*" \(rule no-audit-subscriptions\)/,
      );

      // A publisher that skips its own check is refused by the subscriber, which never runs its handler.
      const { EventPublisher } = await import('../../src/pubsub/publisher.js');
      const rogue = new EventPublisher({
        identity: publisher.identity,
        cache: publisher.cache,
        logger: (await import('../../src/observability/logger.js')).silentLogger(),
      });
      try {
        expect(rogue.publish('secret.plans', 'x')).toMatchObject({ subscriptions: 1 });
        expect(await rogue.flush()).toBe(true);
        expect(rogue.stats.refused).toBe(1);
        expect(received.received).toHaveLength(0);
      } finally {
        rogue.close();
      }
    } finally {
      await admin.setPolicies({ defaultEffect: 'allow', rules: [] });
      await until(() => agents.every((a) => a.cache.policies.rules.length === 0), 'policies cleared', 10_000);
    }
  });
});
