import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { Ack__Output } from '../../src/generated/agentmesh/v1/Ack.js';
import type { AckBatch__Output } from '../../src/generated/agentmesh/v1/AckBatch.js';
import type { EventDelivery } from '../../src/generated/agentmesh/v1/EventDelivery.js';
import type { EventDeliveryBatch } from '../../src/generated/agentmesh/v1/EventDeliveryBatch.js';
import { createLogger } from '../../src/observability/logger.js';
import { encodeEvent, serializeDeliveryBatch } from '../../src/transport/delivery-codec.js';
import { eventToWire, type MeshEvent, type ReceivedEvent } from '../../src/pubsub/event.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../../src/transport/credentials.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { loadMeshProtos } from '../../src/transport/protos.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

/** A `DeliverEvents` stream opened by hand, as a peer that skips the publisher library would. */
interface RawStream {
  send(deliveries: EventDelivery[]): void;
  /** The acks of `deliveryIds`, by id, once all have come (bounded wait). */
  acks(deliveryIds: string[]): Promise<Map<string, Ack__Output>>;
  close(): void;
}

/**
 * What a subscriber checks of every delivery, even one that did not come through the publisher library: a client
 * with a valid mesh certificate calls `Agent.DeliverEvents` on a subscribing agent directly, over mTLS.
 */
describe('a subscriber checks every delivery it receives', () => {
  let mesh: TestMesh;
  let sender: MeshIdentity;
  const agents: RunningAgent[] = [];
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh();
    sender = await mesh.identity('mallory-1');
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await mesh?.close();
  });

  /** A subscriber of `tasks.>` and `dead-letter.>` that records what its handlers see, and the lines it logs. */
  async function subscriber(name: string) {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      level: 'warn',
      pretty: false,
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const handled: ReceivedEvent[] = [];
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: 'worker',
      logger,
      subscriptions: [
        { pattern: 'tasks.>', handler: (event) => void handled.push(event) },
        { pattern: 'dead-letter.>', handler: (event) => void handled.push(event) },
      ],
    });
    agents.push(agent);
    return { agent, handled, lines };
  }

  function open(agent: RunningAgent): RawStream {
    const client = new grpc.Client(
      agent.address,
      createChannelCredentials(sender, agent.identity.spiffeId.uri),
      MESH_CHANNEL_OPTIONS,
    );
    clients.push(client);
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    const stream = client.makeBidiStreamRequest<EventDeliveryBatch, AckBatch__Output>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
    );
    const acks = collector<Ack__Output>();
    const failed = new Promise<never>((_, reject) =>
      stream.on('error', (error: grpc.ServiceError) =>
        reject(new Error(`the delivery stream failed: ${error.code} ${error.details}`)),
      ),
    );
    failed.catch(() => undefined); // observed by acks() when it matters
    stream.on('data', (batch: AckBatch__Output) => {
      for (const ack of batch.acks) acks.push(ack);
    });
    return {
      send: (deliveries) => stream.write({ deliveries }),
      async acks(deliveryIds) {
        const answers = await Promise.race([
          Promise.all(deliveryIds.map((id) => acks.next((ack) => ack.deliveryId === id))),
          failed,
        ]);
        return new Map(answers.map((ack) => [ack.deliveryId, ack]));
      },
      close: () => stream.cancel(),
    };
  }

  /** A delivery for the subscription `tasks.>` of an event from the stream's own peer. */
  function delivery(deliveryId: string, event: Partial<MeshEvent>, pattern = 'tasks.>'): EventDelivery {
    return {
      deliveryId,
      attempt: 1,
      pattern,
      group: '',
      event: eventToWire({
        id: `event-${deliveryId}`,
        topic: 'tasks.created',
        publisher: sender.spiffeId.uri,
        publishedAt: Date.now(),
        payload: Buffer.from('{}'),
        contentType: 'application/json',
        key: '',
        context: { chain: [] },
        ...event,
      }),
    };
  }

  it('refuses invalid topics, a topic outside the pattern and an oversized payload, and delivers the good events beside them', async () => {
    const { agent, handled, lines } = await subscriber('worker-1');
    const stream = open(agent);
    const deep = Array.from({ length: 15 }, (_, i) => `d${i}`).join('.');
    const longTopic = `tasks.${Array.from({ length: 299 }, (_, i) => `s${i}`).join('.')}`;
    stream.send([
      delivery('good-1', { topic: 'tasks.created' }),
      delivery('empty-segment', { topic: 'tasks..x' }),
      delivery('wildcard', { topic: 'tasks.*' }),
      delivery('300-segments', { topic: longTopic }),
      delivery('other-topic', { topic: 'orders.created' }),
      delivery('oversized', { topic: 'tasks.big', payload: Buffer.alloc(1.5 * 1024 * 1024, 1) }),
      delivery('no-id', { id: '' }),
      delivery('good-2', { topic: 'tasks.done.today' }),
      // The dead letter of an event on a topic of 16 segments has 17.
      delivery('dead-letter', { topic: `dead-letter.tasks.${deep}` }, 'dead-letter.>'),
    ]);
    const acks = await stream.acks([
      'good-1',
      'empty-segment',
      'wildcard',
      '300-segments',
      'other-topic',
      'oversized',
      'no-id',
      'good-2',
      'dead-letter',
    ]);

    expect(acks.get('good-1')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(acks.get('good-2')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(acks.get('dead-letter')?.outcome).toBe('ACK_OUTCOME_ACK');
    const refused = (id: string) => {
      const ack = acks.get(id)!;
      expect(ack.outcome, id).toBe('ACK_OUTCOME_REFUSED');
      return ack.reason;
    };
    expect(refused('empty-segment')).toMatch(
      /^invalid topic "tasks\.\.x": use up to 16 dot-separated segments/,
    );
    expect(refused('wildcard')).toMatch(/^invalid topic "tasks\.\*": .*without wildcards/);
    // The reason quotes the start of a huge topic, never all of it.
    const long = refused('300-segments');
    expect(long).toContain(`invalid topic "${longTopic.slice(0, 128)}…"`);
    expect(long.length).toBeLessThan(300);
    expect(refused('other-topic')).toBe('topic "orders.created" does not match the subscription "tasks.>"');
    expect(refused('oversized')).toMatch(
      /^event payload of 1572864 bytes is over the limit of 1048576 bytes; send a reference/,
    );
    expect(refused('no-id')).toMatch(/^the event has no id/);
    // The handler saw the good events only, in full.
    expect(handled.map((event) => event.id).sort()).toEqual([
      'event-dead-letter',
      'event-good-1',
      'event-good-2',
    ]);
    expect(handled.find((event) => event.id === 'event-good-2')).toMatchObject({
      topic: 'tasks.done.today',
      publisher: sender.spiffeId.uri,
      pattern: 'tasks.>',
      attempt: 1,
    });

    // The stream keeps serving: a good delivery after the refusals is handled.
    stream.send([delivery('good-3', { topic: 'tasks.later' })]);
    expect((await stream.acks(['good-3'])).get('good-3')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(handled.map((event) => event.id)).toContain('event-good-3');
    stream.close();

    // Counted in the metrics; one log line for the first refusal, the others counted for the next line.
    const metrics = await agent.metrics.registry.metrics();
    expect(metrics).toMatch(
      /^agentmesh_events_handled_total\{subscriber_type="worker",outcome="refused"\} 6$/m,
    );
    expect(metrics).toMatch(/^agentmesh_events_handled_total\{subscriber_type="worker",outcome="ack"\} 4$/m);
    // (A machine slow enough to take a whole period over them logs a count line too: only counts follow the first.)
    const logged = lines.filter((line) => String(line.msg).startsWith('event refused'));
    expect(logged[0]).toMatchObject({
      msg: 'event refused',
      publisher: sender.spiffeId.uri,
      deliveryId: 'empty-segment',
      eventId: 'event-empty-segment',
    });
    for (const line of logged.slice(1)) expect(line.repeated).toBeGreaterThan(0);
  });

  it('refuses an event whose bytes do not decode on its own, and delivers the rest of its message', async () => {
    const { agent, handled } = await subscriber('worker-4');
    const client = new grpc.Client(
      agent.address,
      createChannelCredentials(sender, agent.identity.spiffeId.uri),
      MESH_CHANNEL_OPTIONS,
    );
    clients.push(client);
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    // Written by hand, as a peer with its own encoder could: the generic serializer cannot write a broken event.
    const stream = client.makeBidiStreamRequest<Buffer, AckBatch__Output>(
      method.path,
      (bytes: Buffer) => bytes,
      method.responseDeserialize,
    );
    const acks = collector<Ack__Output>();
    stream.on('data', (batch: AckBatch__Output) => {
      for (const ack of batch.acks) acks.push(ack);
    });
    const failed = new Promise<never>((_, reject) =>
      stream.on('error', (error: grpc.ServiceError) =>
        reject(new Error(`the stream failed: ${error.details}`)),
      ),
    );
    failed.catch(() => undefined);
    const good = (id: string) => ({
      deliveryId: id,
      attempt: 1,
      pattern: 'tasks.>',
      group: '',
      event: encodeEvent(delivery(id, {}).event!),
    });
    // An Event whose first field (the id) claims 100 bytes where 3 follow.
    const truncated = Buffer.from([0x0a, 100, 0x61, 0x62, 0x63]);
    stream.write(
      serializeDeliveryBatch([
        good('before'),
        { deliveryId: 'broken', attempt: 1, pattern: 'tasks.>', group: '', event: truncated },
        good('after'),
      ]),
    );
    const answers = await Promise.race([
      Promise.all(['before', 'broken', 'after'].map((id) => acks.next((ack) => ack.deliveryId === id))),
      failed,
    ]);
    const byId = new Map(answers.map((ack) => [ack.deliveryId, ack]));
    expect(byId.get('broken')).toMatchObject({ outcome: 'ACK_OUTCOME_REFUSED' });
    expect(byId.get('broken')!.reason).toMatch(/^the event does not decode/);
    expect(byId.get('before')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(byId.get('after')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(handled.map((event) => event.id).sort()).toEqual(['event-after', 'event-before']);
    stream.cancel();
  });

  it('quotes only the start of a huge pattern, group or publisher it refuses', async () => {
    const { agent, handled } = await subscriber('worker-2');
    const stream = open(agent);
    const huge = 'x'.repeat(100_000);
    const wrongPublisher = delivery('wrong-publisher', {
      publisher: `spiffe://agentmesh.local/agent/${huge}`,
    });
    const unknownGroup = { ...delivery('unknown-group', {}), group: huge };
    stream.send([delivery('unknown-pattern', {}, huge), unknownGroup, wrongPublisher]);
    const acks = await stream.acks(['unknown-pattern', 'unknown-group', 'wrong-publisher']);
    for (const ack of acks.values()) {
      expect(ack.outcome).toBe('ACK_OUTCOME_REFUSED');
      expect(ack.reason.length, ack.deliveryId).toBeLessThan(400);
      expect(ack.reason).toContain(`${'x'.repeat(60)}…"`);
    }
    expect(acks.get('unknown-pattern')!.reason).toMatch(/^this agent has no subscription to "x{128}…"$/);
    expect(acks.get('unknown-group')!.reason).toMatch(
      /^this agent has no subscription to "tasks\.>" in group/,
    );
    expect(acks.get('wrong-publisher')!.reason).toMatch(
      /^the event names publisher "spiffe:.*but was sent by/,
    );
    expect(handled).toHaveLength(0);
    stream.close();
  });

  it('logs a flood of bad deliveries as one line and one count, and still delivers the good one among them', async () => {
    const { agent, handled, lines } = await subscriber('worker-3');
    const stream = open(agent);
    const bad = Array.from({ length: 1_000 }, (_, i) => delivery(`bad-${i}`, { topic: `tasks..${i}` }));
    stream.send([...bad.slice(0, 500), delivery('good', {}), ...bad.slice(500)]);
    const acks = await stream.acks(['good', ...bad.map((d) => d.deliveryId!)]);
    expect([...acks.values()].filter((ack) => ack.outcome === 'ACK_OUTCOME_REFUSED')).toHaveLength(1_000);
    expect(acks.get('good')?.outcome).toBe('ACK_OUTCOME_ACK');
    expect(handled.map((event) => event.id)).toEqual(['event-good']);
    stream.close();
    // The count is logged by the end of the period at the latest, and when the agent stops.
    await agent.drain(0);
    // One line, then counts: one count when the flood fits in a period (10 s), as it does unless the machine is
    // very slow; however many, they add up to every refusal and the last shows the last refused delivery.
    const logged = lines.filter((line) => String(line.msg).startsWith('event refused'));
    expect(logged[0]).toMatchObject({ deliveryId: 'bad-0', msg: 'event refused' });
    const counts = logged.slice(1);
    expect(counts.length).toBeGreaterThan(0);
    expect(counts.length).toBeLessThan(10);
    expect(counts.reduce((sum, line) => sum + Number(line.repeated), 1)).toBe(1_000);
    expect(counts.at(-1)).toMatchObject({ deliveryId: 'bad-999' });
    for (const line of counts) {
      expect(line.msg).toMatch(/^event refused: \d+ more in the last \d+\.\d s \(the latest shown\)$/);
    }
  });
});
