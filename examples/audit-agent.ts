/**
 * Example: an auditor, the shape of an agent that reacts to events. It subscribes to `tasks.>` (every topic under
 * `tasks.`) and logs each task event it receives, whoever published it; its skill `audit-trail` answers with the
 * latest entries (`{"limit": 5}`), for agents and for MCP or A2A clients at the mesh's edge.
 *
 * - Delivery is at least once: returning from the handler acknowledges an event, throwing asks for it again later.
 *   A redelivered event has the same `id`, so the auditor counts each event once.
 * - Every subscription receives every matching event, so a second auditor keeps a full audit trail of its own.
 *   Agents that should share the work of a topic instead subscribe with a queue `group`: each event then reaches
 *   one member of the group.
 *
 * `npm start` runs one, auditor-1. To add a second in a process of its own while `npm start` runs (in another
 * terminal, from the repository root):
 *
 *   npm run ca -- issue auditor-2 --type auditor
 *   npx tsx examples/audit-agent.ts
 *
 * AGENT_MESH_NAME, AGENT_MESH_CERTS and AGENT_MESH_CONTROL_PLANE pick another identity, certificate directory or
 * control plane (see standalone.ts).
 */
import {
  Code,
  MeshError,
  identityNameOf,
  parseSpiffeId,
  startAgent,
  type ReceivedEvent,
  type RunningAgent,
} from 'agent-mesh';
import { exampleLogger, isMainModule, runStandalone, type ExampleAgentOptions } from './standalone.js';

/** Event ids remembered to recognize redeliveries; older ones are forgotten. */
const REMEMBERED_EVENTS = 10_000;
/** Entries of the audit trail that `audit-trail` can answer with. */
const TRAIL_ENTRIES = 100;

/** One entry of the audit trail. */
export interface AuditEntry {
  topic: string;
  /** The publisher's agent name (or SPIFFE ID). */
  from: string;
  task?: string;
  /** When it was published, as an ISO 8601 time. */
  publishedAt: string;
}

/** Starts an auditor (type `auditor`) subscribed to `tasks.>`. */
export function startAuditor(options: ExampleAgentOptions): Promise<RunningAgent> {
  const log = exampleLogger(options);
  const seen = new Set<string>();
  const trail: AuditEntry[] = [];
  let audited = 0;
  return startAgent({
    identity: options.identity,
    controlPlane: options.controlPlane,
    logger: options.logger,
    metrics: options.metrics,
    metricsListen: options.metricsListen,
    type: 'auditor',
    description: 'keeps an audit trail of task events (tasks.>)',
    skills: [
      {
        id: 'audit-trail',
        name: 'Audit trail',
        description: 'the latest task events the auditor received (tasks.>), newest first',
        tags: ['audit', 'events'],
        inputSchema: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: TRAIL_ENTRIES, default: 10 } },
        },
        outputSchema: {
          type: 'object',
          properties: { audited: { type: 'integer' }, entries: { type: 'array', items: { type: 'object' } } },
          required: ['audited', 'entries'],
        },
        examples: ['{"limit": 5}'],
        handler: async (request) => {
          const limit = limitOf(request.payload);
          const entries = trail.slice(-limit).reverse();
          return {
            payload: Buffer.from(JSON.stringify({ audited, entries })),
            contentType: 'application/json',
          };
        },
      },
    ],
    subscriptions: [
      {
        pattern: 'tasks.>',
        handler: (event) => {
          if (seen.has(event.id)) return; // a redelivery of an event already audited: acknowledge it again
          seen.add(event.id);
          if (seen.size > REMEMBERED_EVENTS) seen.delete(seen.values().next().value!);
          audited += 1;
          const task = taskOf(event);
          trail.push({
            topic: event.topic,
            from: publisherName(event),
            ...(task ? { task } : {}),
            publishedAt: new Date(event.publishedAt).toISOString(),
          });
          if (trail.length > TRAIL_ENTRIES) trail.shift();
          log.info({ topic: event.topic, from: publisherName(event), task, audited }, 'audited');
        },
      },
    ],
  });
}

/**
 * The `limit` of an `audit-trail` request (default 10, at most 100).
 * @throws MeshError INVALID_ARGUMENT for a request that is not such a JSON object.
 */
function limitOf(payload: Buffer): number {
  let request: { limit?: unknown } | null;
  try {
    request = payload.length === 0 ? {} : (JSON.parse(payload.toString()) as { limit?: unknown } | null);
  } catch {
    throw new MeshError(Code.INVALID_ARGUMENT, 'the request is not JSON: send {"limit": 10}, or {}');
  }
  const limit = request?.limit ?? 10;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > TRAIL_ENTRIES) {
    throw new MeshError(Code.INVALID_ARGUMENT, `"limit" must be an integer from 1 to ${TRAIL_ENTRIES}`);
  }
  return limit;
}

/** The publisher's agent name, or its whole SPIFFE ID when it is not an agent. */
function publisherName(event: ReceivedEvent): string {
  const id = parseSpiffeId(event.publisher);
  return (id.ok && identityNameOf(id.value)) || event.publisher;
}

/** The task an event is about: the `task` field of a JSON body; anyone may publish to `tasks.*`, JSON or not. */
function taskOf(event: ReceivedEvent): string | undefined {
  try {
    const body = JSON.parse(event.payload.toString()) as { task?: unknown } | null;
    return typeof body?.task === 'string' ? body.task : undefined;
  } catch {
    return undefined;
  }
}

// Run on its own: `npx tsx examples/audit-agent.ts` (see the top of this file).
if (isMainModule(import.meta.url)) await runStandalone('auditor-2', startAuditor);
