import { identityNameOf } from '../core/spiffe-id.js';
import { validatePattern } from '../core/topic.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { Command, InvalidArgumentError } from 'commander';
import type { LevelWithSilent } from 'pino';
import { startAgent } from '../agent/agent-runtime.js';
import { createLogger } from '../observability/logger.js';
import type { ReceivedEvent } from '../pubsub/event.js';
import {
  connectedIdentity,
  controlPlaneClient,
  withClientOptions,
  type ClientFlags,
} from './client-options.js';
import { durationArgument, logLevelOption, nonEmptyArgument } from './run.js';

interface SubscribeFlags extends ClientFlags {
  group?: string;
  maxInFlight: number;
  type: string;
  listen: string;
  logLevel: LevelWithSilent;
  from?: { sequence?: number; time?: number };
}

/** `agent-mesh subscribe <pattern>`: print events as they arrive, one JSON object per line. */
export function createSubscribeCommand(): Command {
  return withClientOptions(
    new Command('subscribe')
      .description(
        'subscribe to a topic pattern and print each event as one JSON line (runs as an agent until Ctrl-C)',
      )
      .argument(
        '<pattern>',
        'topic pattern: * matches one segment, a final > the rest (e.g. tasks.>)',
        patternArgument,
      )
      .option('--group <group>', 'queue group: subscribers sharing it split the events', nonEmptyArgument)
      .option('--max-in-flight <n>', 'events handled at once', positiveInteger, 64)
      .option('--type <type>', 'the agent type to register as', nonEmptyArgument, 'cli')
      .option('--listen <host:port>', 'where to receive deliveries', '127.0.0.1:0')
      .option(
        '--from <start>',
        'with the event store (JetStream): replay from a stream sequence (e.g. 1), a time (2026-12-01T09:00:00Z) or a duration ago (e.g. 1h)',
        startArgument,
      )
      .addOption(logLevelOption('warn')),
  ).action(async (pattern: string, flags: SubscribeFlags) => {
    const identity = await connectedIdentity(flags);
    await warnOfTakeover(identity, flags);
    const agent = await startAgent({
      identity,
      controlPlane: flags.controlPlane,
      type: flags.type,
      listen: flags.listen,
      handleSignals: true,
      drainGraceMs: 5_000,
      logger: createLogger({ level: flags.logLevel }),
      subscriptions: [
        {
          pattern,
          ...(flags.group ? { group: flags.group } : {}),
          maxInFlight: flags.maxInFlight,
          ...(flags.from ? { from: flags.from } : {}),
          handler: (event) => void console.log(JSON.stringify(printable(event))),
        },
      ],
    });
    if (flags.from && !agent.durableEvents) {
      process.stderr.write(
        '--from has no effect: this mesh keeps no events (brokerless; see --events on the control plane)\n',
      );
    }
    process.stderr.write(
      `subscribed to "${pattern}"${flags.group ? ` in group "${flags.group}"` : ''} as ${agent.identity.spiffeId.uri}; Ctrl-C to stop\n`,
    );
  });
}

/** `--from`: a stream sequence, an ISO 8601 time, or a duration before now. */
function startArgument(value: string): { sequence?: number; time?: number } {
  if (/^\d+$/.test(value)) {
    const sequence = Number(value);
    if (sequence < 1 || !Number.isSafeInteger(sequence))
      throw new InvalidArgumentError('a sequence starts at 1');
    return { sequence };
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const time = Date.parse(value);
    if (Number.isNaN(time))
      throw new InvalidArgumentError(`not a time: ${value} (e.g. 2026-12-01T09:00:00Z)`);
    return { time };
  }
  return { time: Date.now() - durationArgument(value) };
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new InvalidArgumentError('must be a whole number from 1 to 10000');
  }
  return n;
}

/** An event as a JSON line: JSON payloads as JSON, text as text, anything else as base64. */
function printable(event: ReceivedEvent): Record<string, unknown> {
  const json = /^application\/(json|.*\+json)/.test(event.contentType)
    ? parsedJson(event.payload)
    : undefined;
  const text = /^(text\/|application\/(json|.*\+json))/.test(event.contentType);
  return {
    id: event.id,
    topic: event.topic,
    publisher: event.publisher,
    publishedAt: new Date(event.publishedAt).toISOString(),
    contentType: event.contentType,
    ...(event.key ? { key: event.key } : {}),
    attempt: event.attempt,
    ...(json
      ? { payload: json.value }
      : text
        ? { payload: event.payload.toString() }
        : { payloadBase64: event.payload.toString('base64') }),
    ...(event.deadLetter ? { deadLetter: event.deadLetter } : {}),
  };
}

/** The JSON value of a payload, or undefined when it is not JSON (it is printed as text then). */
function parsedJson(payload: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(payload.toString()) as unknown };
  } catch {
    return undefined;
  }
}

function patternArgument(value: string): string {
  const valid = validatePattern(value);
  if (!valid.ok) throw new InvalidArgumentError(valid.error.message);
  return value;
}

/**
 * An agent registers under its identity's name, so a second `subscribe` as the same identity replaces the first
 * one's registration, and the first stops receiving events: say so, rather than take over in silence. (A restart
 * after a crash does the same on purpose, before the old lease runs out.)
 */
async function warnOfTakeover(identity: MeshIdentity, flags: SubscribeFlags): Promise<void> {
  const name = identityNameOf(identity.spiffeId);
  if (name === undefined) return;
  const client = await controlPlaneClient({ address: flags.controlPlane, identity, timeoutMs: 5_000 });
  try {
    const existing = await client.getAgent(name).catch(() => undefined);
    if (existing && existing.health !== 'unhealthy') {
      process.stderr.write(
        `agent-mesh: warning: "${existing.id}" is already registered (${existing.spec.type} at ${existing.spec.endpoint}, ` +
          `since ${new Date(existing.registeredAt).toISOString()}); this subscription replaces it and that process stops ` +
          'receiving events. To run both, subscribe as another identity (--name, after `agent-mesh ca issue <name>`).\n',
      );
    }
  } finally {
    client.close();
  }
}
