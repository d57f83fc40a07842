/**
 * Example: an auditor, the shape of an agent that reacts to events. It serves no methods; it subscribes to
 * `tasks.>` (every topic under `tasks.`) and logs each task event it receives, whoever published it.
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
import { identityNameOf, parseSpiffeId, startAgent, type ReceivedEvent, type RunningAgent } from 'agent-mesh';
import { exampleLogger, isMainModule, runStandalone, type ExampleAgentOptions } from './standalone.js';

/** Event ids remembered to recognize redeliveries; older ones are forgotten. */
const REMEMBERED_EVENTS = 10_000;

/** Starts an auditor (type `auditor`) subscribed to `tasks.>`. */
export function startAuditor(options: ExampleAgentOptions): Promise<RunningAgent> {
  const log = exampleLogger(options);
  const seen = new Set<string>();
  let audited = 0;
  return startAgent({
    identity: options.identity,
    controlPlane: options.controlPlane,
    logger: options.logger,
    metrics: options.metrics,
    metricsListen: options.metricsListen,
    type: 'auditor',
    description: 'keeps an audit trail of task events (tasks.>)',
    subscriptions: [
      {
        pattern: 'tasks.>',
        handler: (event) => {
          if (seen.has(event.id)) return; // a redelivery of an event already audited: acknowledge it again
          seen.add(event.id);
          if (seen.size > REMEMBERED_EVENTS) seen.delete(seen.values().next().value!);
          audited += 1;
          log.info(
            { topic: event.topic, from: publisherName(event), task: taskOf(event), audited },
            'audited',
          );
        },
      },
    ],
  });
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
