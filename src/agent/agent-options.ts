import type { Skill } from '../core/agent-record.js';
import type { Subscription } from '../core/subscription.js';
import type { ControlPlaneClient } from '../control-plane/client.js';
import type { EndpointCache, TargetQuery } from '../data-plane/endpoint-cache.js';
import type { MeshClient, MeshClientOptions } from '../data-plane/mesh-client.js';
import type { AgentMetrics } from '../observability/agent-metrics.js';
import type { RunningHttpServer } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import type { EventHandler, PublishReport } from '../pubsub/event.js';
import type { EventPublisher, PublishOptions, PublisherOptions } from '../pubsub/publisher.js';
import type { JetStreamEvents } from '../pubsub/jetstream/jetstream-events.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { RunningServer, ServiceRegistration } from '../transport/server.js';
import type { AgentServiceOptions, HandlerFallback, MethodHandler, StreamHandler } from './agent-service.js';

/** What an agent is and does. */
export interface AgentOptions {
  identity: MeshIdentity;
  /**
   * The control plane: `host:port`, or several replicas (a list, or `cp-a:7400,cp-b:7400`); the agent moves to
   * another replica when its own cannot be reached.
   */
  controlPlane: string | readonly string[];
  type: string;
  capabilities?: string[];
  labels?: Record<string, string>;
  weight?: number;
  /**
   * Calls the agent runs at once (0: no limit). Further calls wait in a queue ordered by priority class (from the
   * caller's `priority`) and arrival; a call whose deadline passes while it waits is dropped without running.
   */
  maxConcurrency?: number;
  /** Calls that may wait for a place (default 4 × maxConcurrency); beyond it a call is refused with RESOURCE_EXHAUSTED and a retry-after hint. */
  maxQueue?: number;
  description?: string;
  /** Generic methods, called through Invoke. */
  methods?: Record<string, MethodHandler>;
  /** Streamed methods, called through InvokeStream (e.g. token streams). */
  streams?: Record<string, StreamHandler>;
  /**
   * Serves generic calls to methods that have no handler in `methods` or `streams`, after the policy check (e.g. a
   * sidecar forwarding every method to its app). Without it such calls are UNIMPLEMENTED.
   */
  fallback?: { method?: HandlerFallback<MethodHandler>; stream?: HandlerFallback<StreamHandler> };
  /**
   * Builds the generic `agentmesh.v1.Agent` service in place of `createAgentService`, from the options the
   * runtime would make it with (among them the agent's `pipeline`, through which every call must pass, and its
   * `events`): e.g. a sidecar, which forwards `Invoke` and `InvokeStream` to its app as bytes, never decoded.
   */
  agentService?: (options: AgentServiceOptions) => ServiceRegistration;
  /** The user's own typed services, served beside the generic one; policies name their methods `<package.Service>/<Method>`. */
  services?: ServiceRegistration[];
  /** `host:port` to listen on (default `127.0.0.1:0`). */
  listen?: string;
  /** Lease asked for (default 15 s); heartbeats go at a third of it. */
  leaseTtlMs?: number;
  /** How long a drain waits for in-flight calls (default 10 s). */
  drainGraceMs?: number;
  /** Drain and exit on SIGTERM and SIGINT (default false: the embedding program decides). */
  handleSignals?: boolean;
  /**
   * The agents this agent calls, followed from its start, e.g. `[{ type: 'summarizer' }]`. The agent's view of the
   * registry holds only what it needs: any other query is followed from its first call, which then waits once for
   * the control plane (and finds no agent while the control plane is unreachable).
   */
  calls?: TargetQuery[];
  /**
   * The topics (or patterns, e.g. `tasks.>`) this agent publishes to: its view of the registry then holds only
   * their subscribers, and publishing to another topic fails with FAILED_PRECONDITION. Default: the subscribers of
   * every topic; `[]` for an agent that never publishes.
   */
  publishes?: string[];
  /** Options for the agent's own outbound mesh client. */
  client?: Partial<Omit<MeshClientOptions, 'identity' | 'cache' | 'logger'>>;
  /**
   * The tools the agent offers (its agent card's skills), found by `callTool(id)` and by discovery by skill id or
   * tag. A skill's handler serves the method of the same name; a skill without one describes a method or stream
   * given in `methods` or `streams`.
   */
  skills?: SkillOptions[];
  /** Event subscriptions to register with the agent from the start (more can be added with `subscribe`). */
  subscriptions?: SubscriptionOptions[];
  /**
   * Options for the agent's event publisher (attempts, ack timeout, payload limit, ...). `maxPayloadBytes` also
   * limits the events the agent's subscriptions take: a larger one is refused.
   */
  publisher?: Partial<Omit<PublisherOptions, 'identity' | 'cache' | 'logger' | 'mayPublish' | 'metrics'>>;
  logger?: Logger;
  /**
   * The process's Prometheus metrics, shared by its agents (default: a registry of this agent's own). Serve them
   * with `metricsListen`, or serve `metrics.registry` yourself.
   */
  metrics?: AgentMetrics;
  /** `host:port` for an HTTP server answering `/metrics` (default: none). */
  metricsListen?: string;
}

/** One skill (tool) of an agent: what it does and takes, and optionally its handler. */
export interface SkillOptions {
  /** Unique within the agent; also the method name `callTool` invokes. */
  id: string;
  name?: string;
  description?: string;
  tags?: string[];
  /** JSON Schemas of the input and output (objects, or JSON text). */
  inputSchema?: object | string;
  outputSchema?: object | string;
  /** Media types accepted and produced (default: JSON). */
  inputContentTypes?: string[];
  outputContentTypes?: string[];
  examples?: string[];
  /** Serves the method `id` (else `methods[id]` or `streams[id]` must exist). */
  handler?: MethodHandler;
}

/** One event subscription: a topic pattern, its handler, and optionally a queue group and a concurrency limit. */
export interface SubscriptionOptions {
  pattern: string;
  handler: EventHandler;
  /** Subscriptions sharing a group split the events, one delivery per group. */
  group?: string;
  /** Deliveries handled at once (default 64). */
  maxInFlight?: number;
  /**
   * Durable events (JetStream) only: where the subscription begins when its consumer is created, at a stream
   * sequence or at a time (ms since the epoch); a consumer that began elsewhere is replaced, so that it replays
   * from there. Default: with the events published from now on, and after a restart where it left off.
   */
  from?: { sequence?: number; time?: number };
}

/** A running agent. */
export interface RunningAgent {
  /** The agent's registered name (the last segment of its SPIFFE ID). */
  name: string;
  address: string;
  identity: MeshIdentity;
  /** For calls to other agents, from handlers too (context and deadline propagate). */
  mesh: MeshClient;
  cache: EndpointCache;
  controlPlane: ControlPlaneClient;
  server: RunningServer;
  /** The agent's Prometheus metrics (shared with the process's other agents when given in the options). */
  metrics: AgentMetrics;
  /** The `/metrics` HTTP server, when `metricsListen` asked for one. */
  metricsServer: RunningHttpServer | undefined;
  /** The agent's event publisher (statistics, `flush`, `replay` of dead letters). */
  publisher: EventPublisher;
  /**
   * Publishes an event to every subscription matching `topic` (one member of each queue group), at least once.
   * Resolves once the event is accepted: brokerless, at once (this process holds it until it is delivered); with
   * the mesh's event store (JetStream), once the stream stored it, with its `sequence`.
   * @throws MeshError INVALID_ARGUMENT (topic), RESOURCE_EXHAUSTED (payload size, or too many pending
   *   deliveries), PERMISSION_DENIED (policies), UNAVAILABLE (the event store did not confirm it).
   */
  publish(
    topic: string,
    payload: Buffer | string | unknown,
    options?: PublishOptions,
  ): Promise<PublishReport & { sequence?: number; duplicate?: boolean }>;
  /** The agent's durable events, when the mesh keeps events on JetStream (undefined: brokerless). */
  durableEvents: JetStreamEvents | undefined;
  /**
   * Adds a subscription and registers it with the control plane; resolves with a function that removes it.
   * @throws MeshError INVALID_ARGUMENT (pattern, group), PERMISSION_DENIED when the policies forbid it.
   */
  subscribe(
    pattern: string,
    handler: EventHandler,
    options?: Omit<SubscriptionOptions, 'pattern' | 'handler'>,
  ): Promise<() => Promise<void>>;
  /**
   * Marks the agent draining, waits for in-flight calls and event handlers and for its own published events to
   * be delivered (up to the grace period), deregisters, and closes.
   */
  drain(graceMs?: number): Promise<void>;
}

/**
 * A skill as the agent registers it (schemas as JSON text, absent fields empty); `streaming` when it describes a
 * streamed method (one of the agent's `streams`).
 */
export function toSkill(options: SkillOptions, streaming = false): Skill {
  const schema = (value: object | string | undefined) =>
    value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return {
    id: options.id,
    name: options.name ?? '',
    description: options.description ?? '',
    tags: options.tags ?? [],
    inputSchema: schema(options.inputSchema),
    outputSchema: schema(options.outputSchema),
    inputContentTypes: options.inputContentTypes ?? [],
    outputContentTypes: options.outputContentTypes ?? [],
    examples: options.examples ?? [],
    ...(streaming ? { streaming: true } : {}),
  };
}

/** A subscription as the agent registers it, and its handler. */
export function toSubscription(options: SubscriptionOptions): [Subscription, EventHandler] {
  return [
    { pattern: options.pattern, group: options.group ?? '', maxInFlight: options.maxInFlight ?? 0 },
    options.handler,
  ];
}
