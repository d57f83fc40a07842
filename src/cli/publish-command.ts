import { Command, InvalidArgumentError, Option } from 'commander';
import { ControlPlaneClient } from '../control-plane/client.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { Code, MeshError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { entitledTypes, isRevoked } from '../core/policy.js';
import { publishRefusal } from '../core/publish-policy.js';
import { validateTopic } from '../core/topic.js';
import { EventPublisher } from '../pubsub/publisher.js';
import { JetStreamEvents } from '../pubsub/jetstream/jetstream-events.js';
import { SubscriptionSet } from '../pubsub/subscriber.js';
import { connectedIdentity, withClientOptions, type ClientFlags } from './client-options.js';
import { durationOption, payloadText, UsageError } from './run.js';

interface PublishFlags extends ClientFlags {
  key?: string;
  text: boolean;
  raw: boolean;
  contentType?: string;
  wait: number;
}

/**
 * `agent-mesh publish <topic> <payload>`: publish one event and wait until every subscription has it; with the
 * mesh's event store (JetStream), until the stream stored it.
 */
export function createPublishCommand(): Command {
  return withClientOptions(
    new Command('publish')
      .description(
        'publish one event and wait until every subscription acknowledged it (or dead-lettered it)',
      )
      .argument('<topic>', 'dot-separated topic, e.g. tasks.created', topicArgument)
      .argument(
        '<payload>',
        'the event body: JSON (or any text with --text); - reads it from stdin, @file from a file',
        payloadText,
      )
      .option('--key <key>', 'ordering key: events with the same key reach each subscriber in order')
      .option('--text', 'send the payload as text (text/plain) instead of JSON', false)
      // `--raw` was this flag's first name; on `call`, --raw means "print the answer as received".
      .addOption(new Option('--raw', 'the same as --text').hideHelp().default(false))
      .option(
        '--content-type <type>',
        'media type of the payload (default application/json, or text/plain with --text)',
      )
      .addOption(durationOption('--wait <duration>', 'how long to wait for acknowledgements', 10_000)),
  ).action(async (topic: string, text: string, flags: PublishFlags) => {
    let payload: unknown = text;
    if (!flags.text && !flags.raw) {
      try {
        payload = JSON.parse(text);
      } catch {
        throw new UsageError(`the payload is not JSON: ${text.slice(0, 60)} (use --text to send text)`);
      }
    }
    const identity = await connectedIdentity(flags);
    const logger = createLogger({ level: 'warn' });
    const control = new ControlPlaneClient({ address: flags.controlPlane, identity });
    const cache = new EndpointCache({ client: control, logger });
    const mayPublish = (name: string) =>
      publishRefusal(
        cache.policies,
        { uri: identity.spiffeId.uri, types: entitledTypes(cache.policies, identity.self) },
        name,
      );
    const publisher = new EventPublisher({ identity, cache, logger, mayPublish });
    let durable: JetStreamEvents | undefined;
    try {
      await cache.start();
      const options = {
        ...(flags.key ? { key: flags.key } : {}),
        ...(flags.contentType ? { contentType: flags.contentType } : {}),
      };
      // With the mesh's event store, the event is accepted once the stream stored it: that is the answer.
      durable = await JetStreamEvents.start({
        identity,
        logger,
        grant: (request) => control.getEventStore(request),
        subscriptions: new SubscriptionSet({ identity, logger }),
        cache,
        revoked: (uri) => isRevoked(cache.policies, uri),
        mayPublish,
      });
      if (durable) {
        console.log(JSON.stringify(await durable.publish(topic, payload, options)));
        return;
      }
      const report = publisher.publish(topic, payload, options);
      if (report.subscriptions + report.groups === 0) {
        console.log(JSON.stringify(report));
        process.stderr.write(`no subscription matches "${topic}": nobody received the event\n`);
        return;
      }
      const delivered = await publisher.flush(flags.wait);
      const { deadLettered, refused } = publisher.stats;
      console.log(JSON.stringify({ ...report, delivered, deadLettered, refused }));
      if (!delivered) {
        throw new MeshError(
          Code.DEADLINE_EXCEEDED,
          `not every subscription acknowledged the event within ${flags.wait} ms (still pending: ${publisher.stats.pending})`,
        );
      }
    } finally {
      await durable?.close();
      publisher.close();
      cache.close();
      control.close();
    }
  });
}

function topicArgument(value: string): string {
  const valid = validateTopic(value);
  if (!valid.ok) throw new InvalidArgumentError(valid.error.message);
  return value;
}
