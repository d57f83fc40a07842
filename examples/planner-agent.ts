/**
 * Example: a planner, the shape of an agent that drives work. On a timer it hands a document to whichever
 * summarizer the mesh picks, and announces every result as an event, for whoever cares to listen.
 *
 * - Calls agents by type through its mesh client (`agent.mesh.call({ type: 'summarizer' }, ...)`): no addresses,
 *   mutual TLS to the instance the balancer picks, failover to another one when an instance is unreachable.
 * - Every fourth task asks for the summary as a stream of tokens (`agent.mesh.stream`).
 * - Every tenth task is a blank page, which the summarizer refuses with INVALID_ARGUMENT: the mesh has a few
 *   errors to show, always the same ones.
 * - Publishes `tasks.completed` or `tasks.failed` for each task; the auditor, and `agent-mesh subscribe 'tasks.>'`,
 *   receive them.
 *
 * `npm start` runs one, planner-1. To run another in a process of its own while `npm start` runs (in another
 * terminal, from the repository root):
 *
 *   npm run ca -- issue planner-2 --type planner
 *   npx tsx examples/planner-agent.ts
 *
 * AGENT_MESH_NAME, AGENT_MESH_CERTS and AGENT_MESH_CONTROL_PLANE pick another identity, certificate directory or
 * control plane (see standalone.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MeshError, codeName, startAgent, type Logger, type RunningAgent } from 'agent-mesh';
import { exampleLogger, isMainModule, runStandalone, type ExampleAgentOptions } from './standalone.js';
import type { Summary, SummarizeRequest } from './summarizer-agent.js';

/** Options for {@link startPlanner}. */
export interface PlannerOptions extends ExampleAgentOptions {
  /** Time between tasks (default 1 s). A task still running when the next is due delays it. */
  intervalMs?: number;
}

/** What `tasks.completed` events carry (JSON). */
export interface TaskCompleted {
  task: string;
  title: string;
  summary: string;
  /** The summarizer that answered (unknown for streamed answers). */
  summarizer?: string;
  streamed: boolean;
  ms: number;
}

/** What `tasks.failed` events carry (JSON). */
export interface TaskFailed {
  task: string;
  title: string;
  /** The gRPC status name, e.g. INVALID_ARGUMENT. */
  code: string;
  error: string;
}

const DOCUMENTS: SummarizeRequest[] = [
  {
    title: 'Mutual TLS',
    text: 'Every agent proves who it is with a certificate from the mesh CA, and checks the identity of the agent it talks to. Nobody joins by knowing an address.',
  },
  {
    title: 'Discovery',
    text: 'Agents register their type, capabilities and labels with the control plane. Callers ask for a type and the mesh keeps the list of healthy instances current.',
  },
  {
    title: 'Load balancing',
    text: 'Each call picks one instance among the healthy ones, preferring the instance that answers fastest with the fewest calls in flight.',
  },
  {
    title: 'Events',
    text: 'Publishers announce what happened without knowing who listens. Every subscription gets each event at least once, and queue groups split the work.',
  },
];

/**
 * Starts a planner (type `planner`) that runs a task every `intervalMs`. Its `drain` stops the timer and lets
 * the task in progress finish and publish (within the grace period) before the agent itself drains.
 */
export async function startPlanner(options: PlannerOptions): Promise<RunningAgent> {
  const log = exampleLogger(options);
  const agent = await startAgent({
    identity: options.identity,
    controlPlane: options.controlPlane,
    logger: options.logger,
    metrics: options.metrics,
    metricsListen: options.metricsListen,
    type: 'planner',
    // Its tenth task fails on purpose (a blank page, see the top of this file): the dashboard shows the label next
    // to its error ratio, so that nobody chases these errors.
    labels: { demo: 'fails-on-purpose' },
    description: 'hands documents to summarizers and announces the results on tasks.*',
  });
  let count = 0;
  let current: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (current) return; // the previous task is still running: skip a beat rather than pile up
    count += 1;
    current = runTask(agent, count, log).finally(() => (current = undefined));
  }, options.intervalMs ?? 1_000);
  return {
    ...agent,
    async drain(graceMs = 10_000) {
      clearInterval(timer);
      const until = Date.now() + graceMs;
      await Promise.race([current, sleep(graceMs, undefined, { ref: false })]);
      await agent.drain(Math.max(0, until - Date.now()));
    },
  };
}

/** Runs task number `n` (from 1): one summary, by a call or a stream, and the event that tells about it. */
async function runTask(agent: RunningAgent, n: number, log: Logger): Promise<void> {
  const task = `task-${n}`;
  const document: SummarizeRequest =
    n % 10 === 0 ? { title: 'A blank page', text: '' } : DOCUMENTS[n % DOCUMENTS.length]!;
  const streamed = n % 4 === 0 && n % 10 !== 0;
  const started = performance.now();
  let topic: string;
  let event: TaskCompleted | TaskFailed;
  try {
    const answer = streamed ? await summarizeStreamed(agent, document) : await summarizeOnce(agent, document);
    const ms = Math.round(performance.now() - started);
    event = { task, title: document.title, ...answer, streamed, ms };
    topic = 'tasks.completed';
    log.info(event, 'task completed');
  } catch (caught) {
    const error = MeshError.from(caught);
    event = { task, title: document.title, code: codeName(error.code), error: error.message };
    topic = 'tasks.failed';
    log.warn(event, 'task failed');
  }
  try {
    // The key keeps this planner's events in order at every subscriber.
    await agent.publish(topic, event, { key: agent.name });
  } catch (error) {
    log.warn({ err: error, topic }, 'could not publish');
  }
}

/** One unary call to some summarizer: the whole answer at once, and who gave it. */
async function summarizeOnce(
  agent: RunningAgent,
  document: SummarizeRequest,
): Promise<{ summary: string; summarizer: string }> {
  // `idempotent`: summarizing twice does no harm, so the mesh may retry the call on another instance.
  const answer = await agent.mesh.call({ type: 'summarizer' }, 'summarize', document, { idempotent: true });
  const { summary } = JSON.parse(answer.payload.toString()) as Summary;
  return { summary, summarizer: answer.agent.spec.name };
}

/** One streamed call to some summarizer: the chunks arrive one by one, as the summarizer produces them. */
async function summarizeStreamed(
  agent: RunningAgent,
  document: SummarizeRequest,
): Promise<{ summary: string }> {
  let summary = '';
  for await (const chunk of agent.mesh.stream({ type: 'summarizer' }, 'summarize-stream', document)) {
    summary += chunk.payload.toString();
  }
  return { summary: summary.trim() };
}

// Run on its own: `npx tsx examples/planner-agent.ts` (see the top of this file).
if (isMainModule(import.meta.url)) await runStandalone('planner-2', startPlanner);
