import { randomUUID } from 'node:crypto';
import { childContext, currentContext } from '../core/call-context.js';
import { Code, MeshError } from '../core/errors.js';
import { matchesTopic } from '../core/topic.js';
import type { Span } from '@opentelemetry/api';
import { SpanKind, startSpan, traceparentOf } from '../observability/tracing.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { validateEvent, type MeshEvent } from './event.js';
import type { PublishOptions } from './publisher.js';

/** What every publisher checks an event against, brokerless or on JetStream. */
export interface PublishChecks {
  identity: MeshIdentity;
  maxPayloadBytes?: number;
  hopLimit?: number;
  mayPublish?: (topic: string) => string | undefined;
  topics?: readonly string[];
}

/**
 * Makes the event of one publish and starts its producer span: the payload encoded (bytes as they are, a string
 * as text, anything else as JSON), the checks every subscriber makes again on arrival (so that failing here says
 * so before anything is sent), the policies and declared topics, and the context continued from the current call.
 * The caller ends the span.
 * @throws MeshError INVALID_ARGUMENT, RESOURCE_EXHAUSTED (payload), PERMISSION_DENIED (policies),
 *   FAILED_PRECONDITION (an undeclared topic, or the hop limit).
 */
export function prepareEvent(
  checks: PublishChecks,
  topic: string,
  payload: unknown,
  options: PublishOptions,
): { event: MeshEvent; span: Span } {
  const body = encodePayload(payload, options.contentType);
  const id = options.eventId || randomUUID();
  const valid = validateEvent(
    { id, topic, payload: body.payload, key: options.key ?? '', contentType: body.contentType },
    checks.maxPayloadBytes,
  );
  if (!valid.ok) throw valid.error;
  const denied = checks.mayPublish?.(topic);
  if (denied) throw new MeshError(Code.PERMISSION_DENIED, denied);
  const declared = checks.topics;
  if (declared && !declared.some((pattern) => matchesTopic(pattern, topic))) {
    throw new MeshError(
      Code.FAILED_PRECONDITION,
      `${topic} is not among the topics this agent publishes to (${declared.join(', ') || 'none'}): add it to the agent's \`publishes\``,
    );
  }
  const parent = currentContext() ?? { chain: [] };
  const context = childContext(checks.identity.spiffeId.uri, parent, checks.hopLimit);
  // A recorded producer span is the parent of every subscriber's consumer span.
  const span = startSpan(SpanKind.PRODUCER, () => ({
    name: `publish ${topic}`,
    attributes: {
      'messaging.system': 'agentmesh',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'publish',
    },
    parentTraceparent: parent.traceparent,
  }));
  context.traceparent = traceparentOf(span) ?? context.traceparent;
  const event: MeshEvent = {
    id,
    topic,
    publisher: checks.identity.spiffeId.uri,
    publishedAt: Date.now(),
    payload: body.payload,
    contentType: body.contentType,
    key: options.key ?? '',
    context,
  };
  span.setAttribute('messaging.message.id', event.id);
  return { event, span };
}

function encodePayload(
  payload: unknown,
  contentType: string | undefined,
): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(payload)) return { payload, contentType: contentType ?? 'application/octet-stream' };
  if (typeof payload === 'string')
    return { payload: Buffer.from(payload), contentType: contentType ?? 'text/plain' };
  return {
    payload: Buffer.from(JSON.stringify(payload ?? null)),
    contentType: contentType ?? 'application/json',
  };
}
