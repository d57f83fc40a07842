import { Command, InvalidArgumentError } from 'commander';
import type { EventStoreDescription } from '../control-plane/event-store.js';
import { eventFromWire } from '../pubsub/event.js';
import { formatTable } from './table.js';
import { printResult, withOutputOptions, type OutputFlags } from './output.js';
import { nonEmptyArgument } from './run.js';
import { withClientOptions, withControlPlane, type ClientFlags } from './client-options.js';

type JsonFlags = ClientFlags & OutputFlags;

/**
 * `agent-mesh events`: the event store's topics and subscriptions with their lag, its dead letters, and their
 * replay. For the mesh's administrators, with the mesh's event store (`control-plane --events`).
 */
export function createEventsCommand(): Command {
  const events = new Command('events').description(
    "inspect the mesh's event store (NATS JetStream): topics, subscriptions and their lag, dead letters and replay",
  );

  events.addCommand(
    withClientOptions(
      withOutputOptions(new Command('list')).description(
        'list the stream, its topics, and each subscription with its lag (or -o json|yaml)',
      ),
    ).action(async (flags: JsonFlags) => {
      const described = await withControlPlane(flags, (client) => client.describeEvents());
      await printResult(flags, described, () => eventsTables(described));
    }),
  );

  events.addCommand(
    withClientOptions(
      withOutputOptions(new Command('dead-letters'))
        .description('list the newest dead letters, with why and where each failed (or -o json|yaml)')
        .option(
          '--topic <topic>',
          'only those of events of this topic (e.g. tasks.created)',
          nonEmptyArgument,
        )
        .option('--limit <n>', 'at most this many, the newest', limitArgument, 100),
    ).action(async (flags: JsonFlags & { topic?: string; limit: number }) => {
      const letters = await withControlPlane(flags, (client) =>
        client.listDeadLetters({ ...(flags.topic ? { topic: flags.topic } : {}), limit: flags.limit }),
      );
      const documents = letters.map(({ sequence, event }) => {
        const letter = eventFromWire(event);
        return {
          sequence,
          id: letter.id,
          topic: letter.topic,
          payload: letter.payload.toString(),
          contentType: letter.contentType,
          deadLetter: letter.deadLetter,
        };
      });
      await printResult(flags, documents, () => {
        if (documents.length === 0) {
          process.stderr.write(`no dead letter${flags.topic ? ` of ${flags.topic}` : ''}\n`);
          return undefined;
        }
        return formatTable([
          ['SEQ', 'TOPIC', 'EVENT ID', 'ATTEMPTS', 'SUBSCRIBER', 'AT', 'REASON'],
          ...documents.map((d) => [
            String(d.sequence),
            d.deadLetter?.originalTopic ?? d.topic,
            d.deadLetter?.originalEventId ?? d.id,
            String(d.deadLetter?.attempts ?? 0),
            d.deadLetter?.subscriber ?? '',
            d.deadLetter ? new Date(d.deadLetter.deadLetteredAt).toISOString() : '',
            d.deadLetter?.reason ?? '',
          ]),
        ]);
      });
    }),
  );

  events.addCommand(
    withClientOptions(
      new Command('replay')
        .description(
          "publish a dead letter's original event again to its topic (every subscription of the topic gets it, " +
            'under its original id), as you',
        )
        .argument('<sequence>', 'the dead letter, by its SEQ in `events dead-letters`', sequenceArgument),
    ).action(async (sequence: number, flags: ClientFlags) => {
      const replayed = await withControlPlane(flags, (client) => client.replayDeadLetter(sequence));
      console.log(JSON.stringify(replayed));
    }),
  );
  return events;
}

/** `events list` for people: the stream on one line, then its topics and its subscriptions as tables. */
function eventsTables(described: EventStoreDescription): string {
  return [
    `stream ${described.stream}: ${described.messages} events (${described.bytes} bytes), sequences ` +
      `${described.firstSequence}-${described.lastSequence}, ${described.replicas} replica(s)` +
      (described.leader ? `, leader ${described.leader}` : ''),
    '',
    described.topics.length > 0
      ? formatTable([['TOPIC', 'EVENTS'], ...described.topics.map((t) => [t.topic, String(t.messages)])])
      : 'no topic has events',
    '',
    described.consumers.length > 0
      ? formatTable([
          ['PATTERN', 'GROUP', 'LAG', 'UNACKED', 'REDELIVERED', 'DELIVERED', 'SUBSCRIBERS'],
          ...described.consumers.map((c) => [
            c.pattern,
            c.group || '-',
            String(c.pending),
            String(c.ackPending),
            String(c.redelivered),
            String(c.deliveredSequence),
            c.subscribers.join(', ') || '(none registered)',
          ]),
        ])
      : 'no subscription has a consumer',
  ].join('\n');
}

function limitArgument(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1_000) throw new InvalidArgumentError('must be 1 to 1000');
  return n;
}

function sequenceArgument(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a stream sequence: a whole number from 1');
  }
  return n;
}
