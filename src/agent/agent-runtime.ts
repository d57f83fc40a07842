import type * as grpc from '@grpc/grpc-js';
import { ControlPlaneClient } from '../control-plane/client.js';
import type { AgentSpec } from '../control-plane/agent-record.js';
import { authorize } from '../control-plane/policy.js';
import { runWithContext, type CallContext } from '../data-plane/call-context.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient, type MeshClientOptions } from '../data-plane/mesh-client.js';
import { Code, MeshError } from '../errors.js';
import { identityNameOf, type SpiffeId } from '../identity/spiffe-id.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type RunningServer, type ServiceRegistration } from '../transport/server.js';
import { toServiceError } from '../transport/status.js';
import type { EventHandler, PublishReport } from '../pubsub/event.js';
import { EventPublisher, type PublishOptions, type PublisherOptions } from '../pubsub/publisher.js';
import { SubscriptionSet } from '../pubsub/subscriber.js';
import { subscriptionKey, validateSubscriptions, type Subscription } from '../pubsub/subscription.js';
import {
  createAgentService,
  readIncomingCall,
  type MethodHandler,
  type StreamHandler,
} from './agent-service.js';
import { CertificateRenewer } from './certificate-renewer.js';

/** What an agent is and does. */
export interface AgentOptions {
  identity: MeshIdentity;
  /** `host:port` of the control plane. */
  controlPlane: string;
  type: string;
  capabilities?: string[];
  labels?: Record<string, string>;
  weight?: number;
  maxConcurrency?: number;
  description?: string;
  /** Generic methods, called through Invoke. */
  methods?: Record<string, MethodHandler>;
  /** Streamed methods, called through InvokeStream (e.g. token streams). */
  streams?: Record<string, StreamHandler>;
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
  /** Event subscriptions to register with the agent from the start (more can be added with `subscribe`). */
  subscriptions?: SubscriptionOptions[];
  /** Options for the agent's event publisher (attempts, ack timeout, payload limit, ...). */
  publisher?: Partial<Omit<PublisherOptions, 'identity' | 'cache' | 'logger' | 'mayPublish'>>;
  logger?: Logger;
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
 * policies on every generic call before the handler runs, registers, heartbeats with its load, renews its
 * certificate, and keeps a mesh client for outbound calls fed by the control plane's watch.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const name = identityNameOf(options.identity.spiffeId);
  if (!name || name === 'control-plane') {
    throw new MeshError(Code.INVALID_ARGUMENT, `"${options.identity.spiffeId.uri}" is not an agent identity`);
  }
  const logger = (options.logger ?? silentLogger()).child({ agent: name });
  const controlPlane = new ControlPlaneClient({ address: options.controlPlane, identity: options.identity });
  const cache = new EndpointCache({ client: controlPlane, logger });
  await cache.start();
  const mesh = new MeshClient({ identity: options.identity, cache, logger, ...options.client });

  let inFlight = 0;
  let idle: (() => void) | undefined;
  const counted =
    (handler: MethodHandler): MethodHandler =>
    async (request, call) => {
      inFlight += 1;
      try {
        return await handler(request, call);
      } finally {
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      }
    };
  const countedStream = (handler: StreamHandler): StreamHandler =>
    async function* (request, call) {
      inFlight += 1;
      try {
        yield* handler(request, call);
      } finally {
        inFlight -= 1;
        if (inFlight === 0) idle?.();
      }
    };
  const streams = Object.fromEntries(
    Object.entries(options.streams ?? {}).map(([method, handler]) => [method, countedStream(handler)]),
  );
  const methods = Object.fromEntries(
    Object.entries(options.methods ?? {}).map(([method, handler]) => [method, counted(handler)]),
  );
  /** The control plane's policies decide before any handler, generic or typed, runs. */
  const checkPolicy = (caller: SpiffeId, method: string): void => {
    const callerName = identityNameOf(caller);
    const callerType = callerName ? cache.get(callerName)?.spec.type : undefined;
    const decision = authorize(cache.policies, {
      caller: caller.uri,
      ...(callerType ? { callerType } : {}),
      action: 'invoke',
      targetType: options.type,
      method,
    });
    if (!decision.allowed) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `"${caller.uri}" may not invoke ${options.type}.${method}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`,
      );
    }
  };
  /** Whether `publisher` may publish to `topic`: undefined when allowed, else why not. */
  const publishRefusal = (publisher: SpiffeId, topic: string): string | undefined => {
    const publisherName = identityNameOf(publisher);
    const publisherType = publisherName ? cache.get(publisherName)?.spec.type : undefined;
    const decision = authorize(cache.policies, {
      caller: publisher.uri,
      ...(publisherType ? { callerType: publisherType } : {}),
      action: 'publish',
      topic,
    });
    if (decision.allowed) return undefined;
    return `"${publisher.uri}" may not publish to "${topic}"${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`;
  };
  const events = new SubscriptionSet({ identity: options.identity, logger, mayPublish: publishRefusal });
  const initial = (options.subscriptions ?? []).map(toSubscription);
  const checked = validateSubscriptions(initial.map(([subscription]) => subscription));
  if (!checked.ok) throw checked.error;
  for (const [subscription, handler] of initial) events.add(subscription, handler);
  const publisher = new EventPublisher({
    ...options.publisher,
    identity: options.identity,
    cache,
    logger,
    mayPublish: (topic) => publishRefusal(options.identity.spiffeId, topic),
  });
  const service = createAgentService({
    identity: options.identity,
    logger,
    methods,
    streams,
    authorize: checkPolicy,
    events,
  });
  const server = await startServer({
    identity: options.identity,
    address: options.listen ?? '127.0.0.1:0',
    services: [
      service,
      ...(options.services ?? []).map((typed) => guardService(typed, options.identity, checkPolicy, logger)),
    ],
    reflection: [loadMeshProtos().packageDefinition],
  });
  let spec: Partial<AgentSpec> & Pick<AgentSpec, 'type' | 'name' | 'endpoint'> = {
    type: options.type,
    name,
    endpoint: server.address,
    capabilities: options.capabilities ?? [],
    labels: options.labels ?? {},
    weight: options.weight ?? 0,
    maxConcurrency: options.maxConcurrency ?? 0,
    description: options.description ?? '',
    subscriptions: events.list(),
  };
  const leaseTtlMs = options.leaseTtlMs ?? 15_000;
  await controlPlane.register(spec, leaseTtlMs).catch((error: unknown) => {
    publisher.close();
    cache.close();
    controlPlane.close();
    void server.shutdown(0);
    throw error;
  });
  /** Registers the current subscriptions, one registration at a time. */
  let registering: Promise<unknown> = Promise.resolve();
  const reregister = () => {
    const next = registering.then(async () => {
      spec = { ...spec, subscriptions: events.list() };
      await controlPlane.register(spec, leaseTtlMs);
    });
    registering = next.catch(() => undefined);
    return next;
  };
  let draining = false;
  const heartbeat = setInterval(() => {
    controlPlane.heartbeat(name, { inFlight, queueDepth: 0 }, draining).catch(async (error: unknown) => {
      if (error instanceof MeshError && error.code === Code.NOT_FOUND && !draining) {
        logger.warn('registration lost (lease ended); registering again');
        await controlPlane.register(spec, leaseTtlMs).catch(() => undefined);
      } else {
        logger.warn({ err: error }, 'heartbeat failed');
      }
    });
  }, leaseTtlMs / 3);
  heartbeat.unref();
  const renewer = new CertificateRenewer({ identity: options.identity, client: controlPlane, logger });
  renewer.start();
  logger.info({ address: server.address, type: options.type }, 'agent running');

  let drained: Promise<void> | undefined;
  const agent: RunningAgent = {
    name,
    address: server.address,
    identity: options.identity,
    mesh,
    cache,
    controlPlane,
    server,
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
        await reregister();
      } catch (error) {
        if (!previous) events.remove(subscription);
        throw error;
      }
      return async () => {
        if (events.remove(subscription)) await reregister();
      };
    },
    drain(graceMs = options.drainGraceMs ?? 10_000) {
      drained ??= (async () => {
        draining = true;
        const until = Date.now() + graceMs;
        await controlPlane.heartbeat(name, { inFlight, queueDepth: 0 }, true).catch(() => undefined);
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, graceMs);
            idle = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        await events.settled(Math.max(0, until - Date.now()));
        await publisher.flush(Math.max(0, until - Date.now()));
        clearInterval(heartbeat);
        renewer.stop();
        await controlPlane.deregister(name).catch(() => undefined);
        await server.shutdown(1_000);
        publisher.close();
        mesh.close();
        cache.close();
        controlPlane.close();
        logger.info('agent drained and stopped');
      })();
      return drained;
    },
  };
  if (options.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'draining before exit');
      void agent.drain().finally(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return agent;
}

/**
 * Wraps every handler of a user's typed service so that the policy check runs first (the method is named
 * `<package.Service>/<Method>` in policies), and the handler runs inside the propagated call context.
 */
function guardService(
  service: ServiceRegistration,
  identity: MeshIdentity,
  check: (caller: SpiffeId, method: string) => void,
  logger: Logger,
): ServiceRegistration {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(service.implementation)) {
    const method = `${service.name}/${name}`;
    implementation[name] = ((
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback?: grpc.sendUnaryData<unknown>,
    ) => {
      let context: CallContext;
      try {
        const incoming = readIncomingCall(call, identity);
        check(incoming.caller, method);
        context = incoming.context;
      } catch (error) {
        const status = toServiceError(error, logger);
        if (callback) callback(status);
        else call.emit('error', status);
        return;
      }
      runWithContext(context, () => (handler as (call: unknown, callback?: unknown) => void)(call, callback));
    }) as grpc.UntypedHandleCall;
  }
  return { ...service, implementation };
}

function toSubscription(options: SubscriptionOptions): [Subscription, EventHandler] {
  return [
    { pattern: options.pattern, group: options.group ?? '', maxInFlight: options.maxInFlight ?? 0 },
    options.handler,
  ];
}
