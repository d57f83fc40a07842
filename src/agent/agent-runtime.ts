import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { ControlPlaneClient } from '../control-plane/client.js';
import { validateSkills, type Skill } from '../core/agent-record.js';
import { authorize, entitledTypes, grantedPriority, isRevoked, revokedRefusal } from '../core/policy.js';
import { CONTEXT_KEYS, runWithContext } from '../core/call-context.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { CallReports } from '../data-plane/call-reports.js';
import { MeshClient, type CallObserver, type MeshClientOptions } from '../data-plane/mesh-client.js';
import { Code, MeshError, codeName, quote } from '../core/errors.js';
import { moreUrgent, type PriorityClass } from '../core/priority.js';
import { identityNameOf, type SpiffeId } from '../core/spiffe-id.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import { AgentMetrics, type AgentInstruments } from '../observability/agent-metrics.js';
import { metricsRoute, startHttpServer, type RunningHttpServer } from '../observability/http-server.js';
import { flushTracing, startTracingFromEnv } from '../observability/tracing.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type RunningServer, type ServiceRegistration } from '../transport/server.js';
import { toServiceError } from '../transport/status.js';
import type { EventHandler, PublishReport } from '../pubsub/event.js';
import { EventPublisher, type PublishOptions, type PublisherOptions } from '../pubsub/publisher.js';
import { publishRefusal } from '../core/publish-policy.js';
import { SubscriptionSet } from '../pubsub/subscriber.js';
import { subscriptionKey, validateSubscriptions, type Subscription } from '../core/subscription.js';
import {
  createAgentService,
  readIncomingCall,
  type HandlerFallback,
  type InvocationContext,
  type MethodHandler,
  type StreamHandler,
} from './agent-service.js';
import { CallScheduler, priorityClass } from './call-scheduler.js';
import { CertificateRenewer } from './certificate-renewer.js';
import { AgentRegistration, type RegistrationSpec } from './registration.js';
import { CallerRateLimiter } from './rate-limiter.js';

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
   * @throws MeshError INVALID_ARGUMENT (topic), RESOURCE_EXHAUSTED (payload size), PERMISSION_DENIED (policies).
   */
  publish(topic: string, payload: Buffer | string | unknown, options?: PublishOptions): PublishReport;
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
 * Runs an agent: serves its methods over mTLS (with `grpc.health.v1` and reflection), enforces the control plane's
 * policies on every call, generic or typed, before the handler runs, refuses calls above `maxConcurrency`,
 * registers, heartbeats with its load, renews its certificate, and keeps a mesh client for outbound calls fed by
 * the control plane's watch. When it fails partway, what it opened is closed again before the error is rethrown.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const name = identityNameOf(options.identity.spiffeId);
  if (!name || name === 'control-plane') {
    throw new MeshError(Code.INVALID_ARGUMENT, `"${options.identity.spiffeId.uri}" is not an agent identity`);
  }
  const skills = validateSkills((options.skills ?? []).map(toSkill));
  if (!skills.ok) throw skills.error;
  const described = options.skills?.find(
    (skill) =>
      !skill.handler &&
      !Object.hasOwn(options.methods ?? {}, skill.id) &&
      !Object.hasOwn(options.streams ?? {}, skill.id),
  );
  if (described) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `skill "${described.id}" has no handler, and no method or stream of that name serves it`,
    );
  }
  const initial = (options.subscriptions ?? []).map(toSubscription);
  const checked = validateSubscriptions(initial.map(([subscription]) => subscription));
  if (!checked.ok) throw checked.error;
  const opened: Array<() => unknown> = [];
  try {
    return await launchAgent(options, name, initial, opened);
  } catch (error) {
    for (const close of opened.reverse()) {
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
    }
    throw error;
  }
}

/** The body of {@link startAgent}; every part it opens pushes its closer on `opened`. */
async function launchAgent(
  options: AgentOptions,
  name: string,
  initial: Array<[Subscription, EventHandler]>,
  opened: Array<() => unknown>,
): Promise<RunningAgent> {
  const logger = (options.logger ?? silentLogger()).child({ agent: name });
  startTracingFromEnv('agent-mesh', logger);
  const metrics = options.metrics ?? new AgentMetrics();
  const instruments = metrics.forAgent(name, options.type, () => options.identity.expiresAt);
  opened.push(() => instruments.close());
  const metricsServer = options.metricsListen
    ? await startHttpServer({
        listen: options.metricsListen,
        routes: { '/metrics': metricsRoute(metrics.registry) },
        logger,
      })
    : undefined;
  if (metricsServer) opened.push(() => metricsServer.close());
  const controlPlane = new ControlPlaneClient({
    address: options.controlPlane,
    identity: options.identity,
    logger,
  });
  opened.push(() => controlPlane.close());
  const cache = new EndpointCache({ client: controlPlane, logger });
  opened.push(() => cache.close());
  await cache.start();
  const reports = new CallReports();
  const mesh = new MeshClient({
    identity: options.identity,
    cache,
    logger,
    ...options.client,
    observer: callObserver(instruments, reports),
  });
  opened.push(() => mesh.close());

  const calls = new CallScheduler({
    agent: name,
    limit: options.maxConcurrency ?? 0,
    ...(options.maxQueue !== undefined ? { queueLimit: options.maxQueue } : {}),
  });
  /**
   * The agent types a caller is known by in policies: those its certificate and the policies' grants entitle it to
   * (see {@link entitledTypes}), and the type it registered as, which the control plane admitted (with entitlements
   * enforced, one of those; in audit mode, whatever it claimed).
   */
  const callerTypesOf = (caller: VerifiedPeer): string[] => {
    const types = entitledTypes(cache.policies, caller);
    const registered = registeredTypeOf(caller);
    if (registered !== undefined && !types.includes(registered)) types.push(registered);
    return types;
  };
  /** The type `caller` registered as, when it is one of our agents. */
  const registeredTypeOf = (caller: SpiffeId): string | undefined => {
    const callerName = identityNameOf(caller);
    const record = callerName === undefined ? undefined : cache.get(callerName);
    return record?.spiffeId === caller.uri ? record.spec.type : undefined;
  };
  const loweredFor = new Set<string>();
  /**
   * The priority class a call runs at: what its caller asked for, unless the policies' grants give the caller less
   * (`default` without a grant). The call's context then carries the granted class, so calls made while handling
   * it ask for no more either. Each caller's first lowered call is logged; the metric counts them all.
   */
  const grantPriority = (call: InvocationContext): PriorityClass => {
    const asked = priorityClass(call.context.priority);
    // What the handler sees and passes on is a class, never the caller's raw text.
    if (call.context.priority !== undefined) call.context.priority = asked;
    if (!moreUrgent(asked, 'default')) return asked;
    const granted = grantedPriority(cache.policies, {
      uri: call.caller.uri,
      types: callerTypesOf(call.caller),
    });
    if (!moreUrgent(asked, granted)) return asked;
    call.context.priority = granted;
    const callerType = registeredTypeOf(call.caller) ?? 'unknown';
    instruments.priorityLowered(callerType, asked, granted);
    if (!loweredFor.has(call.caller.uri)) {
      if (loweredFor.size >= 1_000) loweredFor.clear();
      loweredFor.add(call.caller.uri);
      logger.warn(
        { caller: call.caller.uri, asked, granted },
        `a caller asked for priority ${asked} without a grant: its calls run at ${granted} (grant it with a policy grant)`,
      );
    }
    return granted;
  };
  /** A place among the agent's calls, waiting in its queue (by granted priority class) when all are taken. */
  const admit = (call: InvocationContext) => {
    const priority = grantPriority(call);
    return calls.tryTake() ?? calls.admit(priority, call.deadline, call.signal);
  };
  const limiter = new CallerRateLimiter();
  /** The caller's budgets under the policies' rate limits; the returned function charges the tokens used. */
  const unlimited = { take: () => () => undefined };
  /** Checks the call against the caller's rate-limit budgets; `take()` charges it once it is admitted. */
  const limit = (method: string, call: InvocationContext) => {
    const limits = cache.policies.rateLimits;
    if (!limits || limits.length === 0) return unlimited;
    return limiter.check(limits, {
      caller: call.caller.uri,
      callerTypes: callerTypesOf(call.caller),
      targetType: options.type,
      method,
    });
  };
  const counted =
    (method: string, handler: MethodHandler): MethodHandler =>
    async (request, call) => {
      const budget = limit(method, call);
      const taken = admit(call);
      const end = typeof taken === 'function' ? taken : await taken; // no tick when a place is free
      const charge = budget.take(); // charged only when the call runs
      let tokens = 0;
      try {
        const response = await handler(request, call);
        tokens = response.tokens ?? 0;
        return response;
      } finally {
        end();
        charge(tokens);
      }
    };
  const countedStream = (method: string, handler: StreamHandler): StreamHandler =>
    async function* (request, call) {
      const budget = limit(method, call);
      const taken = admit(call);
      const end = typeof taken === 'function' ? taken : await taken; // no tick when a place is free
      const charge = budget.take(); // charged only when the call runs
      let tokens = 0;
      try {
        for await (const chunk of handler(request, call)) {
          tokens += chunk.tokens ?? 0;
          yield chunk;
        }
      } finally {
        end();
        charge(tokens);
      }
    };
  const streams = Object.fromEntries(
    Object.entries(options.streams ?? {}).map(([method, handler]) => [
      method,
      countedStream(method, handler),
    ]),
  );
  const methods = Object.fromEntries(
    [
      ...Object.entries(options.methods ?? {}),
      ...(options.skills ?? []).flatMap((skill) =>
        skill.handler ? [[skill.id, skill.handler] as const] : [],
      ),
    ].map(([method, handler]) => [method, counted(method, handler)]),
  );
  /** The control plane's policies decide before any handler, generic or typed, runs. */
  const checkPolicy = (caller: VerifiedPeer, method: string): void => {
    if (isRevoked(cache.policies, caller.uri)) throw revokedRefusal(caller.uri);
    const decision = authorize(cache.policies, {
      caller: caller.uri,
      callerTypes: callerTypesOf(caller),
      action: 'invoke',
      targetType: options.type,
      method,
    });
    if (!decision.allowed) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `${quote(caller.uri)} may not invoke ${options.type}.${method}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`,
      );
    }
  };
  /** The registered type of a caller, for metrics ('unknown' for a caller not in the registry). */
  const callerTypeOf = (caller: SpiffeId): string => registeredTypeOf(caller) ?? 'unknown';
  /** Whether `publisher` may publish to `topic`: undefined when allowed, else why not. */
  const mayPublish = (publisher: VerifiedPeer, topic: string): string | undefined =>
    isRevoked(cache.policies, publisher.uri)
      ? revokedRefusal(publisher.uri).message
      : publishRefusal(cache.policies, { uri: publisher.uri, types: callerTypesOf(publisher) }, topic);
  const maxPayloadBytes = options.publisher?.maxPayloadBytes;
  const events = new SubscriptionSet({
    identity: options.identity,
    logger,
    mayPublish,
    metrics: instruments,
    // One payload limit for the events an agent sends and those it takes.
    ...(maxPayloadBytes !== undefined ? { maxPayloadBytes } : {}),
  });
  opened.push(() => events.close());
  for (const [subscription, handler] of initial) events.add(subscription, handler);
  const publisher = new EventPublisher({
    ...options.publisher,
    identity: options.identity,
    cache,
    logger,
    metrics: instruments,
    mayPublish: (topic) => mayPublish(options.identity.self, topic),
  });
  opened.push(() => publisher.close());
  const hopLimit = options.client?.hopLimit;
  const service = createAgentService({
    identity: options.identity,
    logger,
    methods,
    streams,
    authorize: checkPolicy,
    events,
    type: options.type,
    onCallEnd: (caller, method, code, ms) =>
      instruments.serverCall(
        caller ? callerTypeOf(caller) : 'unknown',
        Object.hasOwn(methods, method) || Object.hasOwn(streams, method) ? method : 'unknown',
        code,
        ms,
      ),
    ...(hopLimit !== undefined ? { hopLimit } : {}),
    fallback: {
      method: (method) => {
        const handler = options.fallback?.method?.(method);
        return handler && counted(method, handler);
      },
      stream: (method) => {
        const handler = options.fallback?.stream?.(method);
        return handler && countedStream(method, handler);
      },
    },
  });
  const typed = options.services ?? [];
  const guard: Guard = {
    identity: options.identity,
    check: checkPolicy,
    limit,
    priority: grantPriority,
    calls,
    logger,
    hopLimit,
  };
  const server = await startServer({
    identity: options.identity,
    address: options.listen ?? '127.0.0.1:0',
    services: [service, ...typed.map((registration) => guardService(registration, guard))],
    reflection: [loadMeshProtos().packageDefinition, ...typed.map(reflectionOf)],
  });
  opened.push(() => server.shutdown(0));
  const spec: RegistrationSpec = {
    type: options.type,
    name,
    endpoint: server.address,
    capabilities: options.capabilities ?? [],
    labels: options.labels ?? {},
    weight: options.weight ?? 0,
    maxConcurrency: options.maxConcurrency ?? 0,
    description: options.description ?? '',
    subscriptions: events.list(),
    skills: (options.skills ?? []).map(toSkill),
  };
  const registration = new AgentRegistration({
    client: controlPlane,
    spec: () => ({ ...spec, subscriptions: events.list() }),
    leaseTtlMs: options.leaseTtlMs ?? 15_000,
    load: () => ({ inFlight: calls.size, queueDepth: calls.waiting }),
    reports,
    logger,
  });
  await registration.register();
  registration.start();
  opened.push(() => registration.stop());
  // A watch that comes back with a snapshot lacking this agent found a control plane that lost it (a restart
  // with an empty store): register again now rather than at the next heartbeat.
  const stopWatchingSelf = cache.onChange((change) => {
    if (change === 'snapshot' && !cache.snapshotIncludes(name)) registration.poke();
  });
  opened.push(stopWatchingSelf);
  const renewer = new CertificateRenewer({ identity: options.identity, client: controlPlane, logger });
  renewer.start();
  logger.info(
    { address: server.address, type: options.type, controlPlane: controlPlane.address },
    'agent running',
  );

  let drained: Promise<void> | undefined;
  const agent: RunningAgent = {
    name,
    address: server.address,
    identity: options.identity,
    mesh,
    cache,
    controlPlane,
    server,
    metrics,
    metricsServer,
    publisher,
    publish: (topic, payload, publishOptions) => publisher.publish(topic, payload, publishOptions),
    async subscribe(pattern, handler, subscribeOptions = {}) {
      const [subscription] = toSubscription({ ...subscribeOptions, pattern, handler });
      const checkedAll = validateSubscriptions([
        ...events.list().filter((s) => subscriptionKey(s) !== subscriptionKey(subscription)),
        subscription,
      ]);
      if (!checkedAll.ok) throw checkedAll.error;
      const previous = events.list().find((s) => subscriptionKey(s) === subscriptionKey(subscription));
      events.add(subscription, handler);
      try {
        await registration.register();
      } catch (error) {
        if (!previous) events.remove(subscription);
        throw error;
      }
      return async () => {
        // After the agent left the mesh there is no registration to change.
        if (events.remove(subscription) && !registration.deregistered) await registration.register();
      };
    },
    drain(graceMs = options.drainGraceMs ?? 10_000) {
      drained ??= (async () => {
        const until = Date.now() + graceMs;
        const remaining = () => Math.max(0, until - Date.now());
        // Calls to the control plane get a share of the grace, never all of it: an unreachable control plane
        // must not keep the agent from finishing its work and exiting in time.
        await registration.drain(Math.min(2_000, remaining() / 4));
        await calls.idle(remaining());
        await events.settled(remaining());
        await publisher.flush(remaining());
        stopWatchingSelf();
        renewer.stop();
        await registration.deregister(Math.min(2_000, remaining() / 2));
        // The server stops taking calls and has the rest of the grace for those still arriving or running; the
        // long-lived streams left after them (event deliveries, health watches) are cut at once.
        const stopped = server.shutdown(remaining());
        await Promise.race([stopped, calls.idle(remaining()).then(() => events.settled(remaining()))]);
        server.forceShutdown();
        await stopped;
        publisher.close();
        events.close();
        mesh.close();
        cache.close();
        controlPlane.close();
        instruments.close();
        await metricsServer?.close();
        await flushTracing(Math.max(100, remaining()));
        logger.info('agent drained and stopped');
      })().finally(() => forgetSignalDrain(agent));
      return drained;
    },
  };
  if (options.handleSignals) drainOnSignals(agent, logger, options.drainGraceMs ?? 10_000);
  return agent;
}

/** What guards a user's typed service: the agent's identity, its policy check, its call count. */
interface Guard {
  identity: MeshIdentity;
  check: (caller: VerifiedPeer, method: string) => void;
  /** Takes the call from the caller's rate-limit budgets (typed services report no tokens). */
  limit: (method: string, call: InvocationContext) => { take(): unknown };
  /** The priority class the call runs at: the caller's ask, capped by its grant. */
  priority: (call: InvocationContext) => PriorityClass;
  calls: CallScheduler;
  logger: Logger;
  hopLimit: number | undefined;
}

/**
 * Wraps every handler of a user's typed service so that the policy check runs first (the method is named
 * `<package.Service>/<Method>` in policies), the call counts toward the agent's in-flight calls (for its
 * concurrency limit, its heartbeats and drains) until its answer goes out or the caller goes away, and the
 * handler runs inside the propagated call context.
 */
function guardService(service: ServiceRegistration, guard: Guard): ServiceRegistration {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(service.implementation)) {
    const method = `${service.name}/${name}`;
    implementation[name] = ((
      call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
      callback?: grpc.sendUnaryData<unknown>,
    ) => {
      const refuse = (error: unknown) => {
        const status = toServiceError(error, guard.logger);
        if (callback) callback(status);
        else call.emit('error', status);
      };
      let incoming: InvocationContext;
      let budget: { take(): unknown };
      try {
        incoming = readIncomingCall(call, guard.identity, guard.hopLimit);
        guard.check(incoming.caller, method);
        budget = guard.limit(method, incoming);
      } catch (error) {
        refuse(error);
        return;
      }
      const gone = new AbortController();
      call.once('cancelled', () => gone.abort());
      const serve = (end: () => void) => {
        if (call.cancelled) return end();
        budget.take();
        call.once('cancelled', end);
        // Unary and client-streaming calls end with their callback; streamed answers when the stream finishes.
        const answer: grpc.sendUnaryData<unknown> | undefined = callback
          ? (...args) => {
              end();
              callback(...args);
            }
          : undefined;
        if (!callback) for (const event of ['finish', 'close']) call.once(event, end);
        try {
          runWithContext(incoming.context, () =>
            (handler as (call: unknown, callback?: unknown) => void)(call, answer),
          );
        } catch (error) {
          end();
          refuse(error);
        }
      };
      // A place among the agent's calls first: the call may wait in the queue, by its priority class.
      const priority = guard.priority(incoming);
      // A typed handler may read the metadata itself: it too sees the class the call runs at, not the claim.
      if (call.metadata.get(CONTEXT_KEYS.priority).length > 0)
        call.metadata.set(CONTEXT_KEYS.priority, priority);
      guard.calls.admit(priority, incoming.deadline, gone.signal).then(serve, refuse);
    }) as grpc.UntypedHandleCall;
  }
  return { ...service, implementation };
}

/**
 * What server reflection needs of a user's typed service: the message types of its methods, which carry the
 * file descriptors of their protos when the definition comes from `@grpc/proto-loader` (otherwise nothing).
 */
function reflectionOf(service: ServiceRegistration): PackageDefinition {
  const types: PackageDefinition = {};
  for (const [method, definition] of Object.entries(service.definition)) {
    const { requestType, responseType } = definition as Partial<MethodDefinition<object, object>>;
    for (const [side, type] of [
      ['request', requestType],
      ['response', responseType],
    ] as const) {
      if (Array.isArray(type?.fileDescriptorProtos)) types[`${service.name}/${method}/${side}`] = type;
    }
  }
  return types;
}

/**
 * Agents that drain on SIGTERM and SIGINT, with their loggers and grace periods: one handler per process serves
 * them all.
 */
const signalDrains = new Map<RunningAgent, { logger: Logger; graceMs: number }>();
let signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

/**
 * Drains `agent` on SIGTERM or SIGINT. The first signal drains every agent of the process that asked for it,
 * together, and exits once all are done (within their grace periods); later signals change nothing, because one
 * Ctrl-C often arrives more than once (the terminal signals the process group, and npm or tsx forward it again).
 * An agent that drains for another reason leaves the set when its drain ends.
 */
function drainOnSignals(agent: RunningAgent, logger: Logger, graceMs: number): void {
  signalDrains.set(agent, { logger, graceMs });
  if (signalHandler) return;
  const handler = (signal: NodeJS.Signals) => {
    stopSignalHandler();
    const ignore = (again: NodeJS.Signals) => logger.info({ signal: again }, 'already draining before exit');
    process.on('SIGTERM', ignore);
    process.on('SIGINT', ignore);
    const agents = [...signalDrains];
    for (const [, { logger: agentLogger }] of agents) agentLogger.info({ signal }, 'draining before exit');
    // Drains are bounded by their grace periods; should one still hang (a bug), the process exits anyway.
    const longest = Math.max(...agents.map(([, { graceMs: grace }]) => grace));
    setTimeout(() => {
      logger.error({ graceMs: longest }, 'drain did not finish within the grace period; exiting');
      process.exit(1);
    }, longest + 2_000).unref();
    void Promise.allSettled(agents.map(([running]) => running.drain())).finally(() => process.exit(0));
  };
  signalHandler = handler;
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

/** Takes a drained agent out of the signal handler's set; the handler goes when no agent is left. */
function forgetSignalDrain(agent: RunningAgent): void {
  if (signalDrains.delete(agent) && signalDrains.size === 0) stopSignalHandler();
}

function stopSignalHandler(): void {
  if (!signalHandler) return;
  process.off('SIGTERM', signalHandler);
  process.off('SIGINT', signalHandler);
  signalHandler = undefined;
}

function toSkill(options: SkillOptions): Skill {
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
  };
}

function toSubscription(options: SubscriptionOptions): [Subscription, EventHandler] {
  return [
    { pattern: options.pattern, group: options.group ?? '', maxInFlight: options.maxInFlight ?? 0 },
    options.handler,
  ];
}

/** Feeds what the agent's mesh client sees to its metrics and to the call reports its heartbeats carry. */
function callObserver(instruments: AgentInstruments, reports: CallReports): CallObserver {
  return {
    attempt(callee, method, code, ms, error) {
      instruments.clientAttempt(callee.spec.type, method, code, ms);
      const failure = error ? `${codeName(code)}: ${error.message}` : undefined;
      reports.record(callee.id, callee.spec.type, method, ms, failure);
    },
    retry: (calleeType) => instruments.retry(calleeType),
    failover: (calleeType) => instruments.failover(calleeType),
    ejection: (calleeType) => instruments.ejection(calleeType),
    unrouted: (calleeType, method) => instruments.clientUnrouted(calleeType, method),
  };
}
