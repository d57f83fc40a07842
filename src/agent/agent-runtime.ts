import { MESH_VERSION } from '../core/version.js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { ControlPlaneClient } from '../control-plane/client.js';
import { validateSkills, type Skill } from '../core/agent-record.js';
import { Code, MeshError, codeName } from '../core/errors.js';
import { identityNameOf } from '../core/spiffe-id.js';
import { subscriptionKey, validateSubscriptions, type Subscription } from '../core/subscription.js';
import { CallReports } from '../data-plane/call-reports.js';
import { EndpointCache } from '../data-plane/endpoint-cache.js';
import { MeshClient, type CallObserver } from '../data-plane/mesh-client.js';
import { AgentMetrics, type AgentInstruments } from '../observability/agent-metrics.js';
import { metricsRoute, startHttpServer } from '../observability/http-server.js';
import { silentLogger } from '../observability/logger.js';
import { startTracingFromEnv } from '../observability/tracing.js';
import type { EventHandler } from '../pubsub/event.js';
import { EventPublisher } from '../pubsub/publisher.js';
import { SubscriptionSet } from '../pubsub/subscriber.js';
import { JetStreamEvents } from '../pubsub/jetstream/jetstream-events.js';
import { isRevoked } from '../core/policy.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type ServiceRegistration } from '../transport/server.js';
import { interceptService } from '../transport/server-pipeline.js';
import {
  toSkill,
  toSubscription,
  type AgentOptions,
  type RunningAgent,
  type SkillOptions,
  type SubscriptionOptions,
} from './agent-options.js';
import { drainAgent } from './agent-drain.js';
import { agentPipeline } from './agent-pipeline.js';
import { createAgentService } from './agent-service.js';
import { CallScheduler } from './call-scheduler.js';
import { CallerPolicies } from './caller-policies.js';
import { CertificateRenewer } from './certificate-renewer.js';
import { AgentRegistration, type RegistrationSpec } from './registration.js';
import { drainOnSignals, forgetSignalDrain } from './signal-drains.js';

export type { AgentOptions, RunningAgent, SkillOptions, SubscriptionOptions } from './agent-options.js';

/** The skills an agent registers; one without a handler of its own that names one of its streams is streamed. */
function registeredSkills(options: AgentOptions): Skill[] {
  const streamed = (skill: SkillOptions) =>
    !skill.handler &&
    !Object.hasOwn(options.methods ?? {}, skill.id) &&
    Object.hasOwn(options.streams ?? {}, skill.id);
  return (options.skills ?? []).map((skill) => toSkill(skill, streamed(skill)));
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
  const skills = validateSkills(registeredSkills(options));
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
  // The agent's view of the registry: itself, what it calls, and the subscribers of what it publishes.
  const cache = new EndpointCache({
    client: controlPlane,
    logger,
    scope: { agentIds: [name], targets: options.calls ?? [], topics: options.publishes ?? ['>'] },
  });
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
  const callers = new CallerPolicies(cache, options.type);
  const maxPayloadBytes = options.publisher?.maxPayloadBytes;
  const events = new SubscriptionSet({
    identity: options.identity,
    logger,
    mayPublish: (publisher, topic) => callers.publishRefusal(publisher, topic),
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
    mayPublish: (topic) => callers.publishRefusal(options.identity.self, topic),
    ...(options.publishes ? { topics: options.publishes } : {}),
  });
  opened.push(() => publisher.close());
  // One chain for every call the agent serves, composed once: generic, streamed, typed, event deliveries.
  const pipeline = agentPipeline({
    type: options.type,
    callers,
    calls,
    instruments,
    logger,
    hopLimit: options.client?.hopLimit,
  });
  const service = (options.agentService ?? createAgentService)({
    identity: options.identity,
    logger,
    methods: {
      ...options.methods,
      ...Object.fromEntries(
        (options.skills ?? []).flatMap((skill) => (skill.handler ? [[skill.id, skill.handler]] : [])),
      ),
    },
    streams: options.streams ?? {},
    events,
    pipeline,
    ...(options.fallback ? { fallback: options.fallback } : {}),
  });
  const typed = options.services ?? [];
  const server = await startServer({
    identity: options.identity,
    address: options.listen ?? '127.0.0.1:0',
    services: [
      service,
      ...typed.map((registration) =>
        interceptService(registration, { identity: options.identity, logger, pipeline }),
      ),
    ],
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
    skills: registeredSkills(options),
    meshVersion: MESH_VERSION,
  };
  const registration = new AgentRegistration({
    client: controlPlane,
    spec: () => ({ ...spec, subscriptions: events.list() }),
    leaseTtlMs: options.leaseTtlMs ?? 15_000,
    load: () => ({ inFlight: calls.size, queueDepth: calls.waiting }),
    reports,
    logger,
  });
  // A registration is read back before it counts as done: the agent's own view then lists it as it now is.
  const register = async () => {
    await registration.register();
    await cache.reached(registration.revision);
  };
  await register();
  registration.start();
  opened.push(() => registration.stop());
  // Durable events, when the control plane says the mesh keeps them on JetStream; brokerless otherwise.
  const startsOf = (subscriptions: readonly SubscriptionOptions[]) =>
    subscriptions.flatMap((s) =>
      s.from
        ? [
            {
              pattern: s.pattern,
              group: s.group ?? '',
              ...(s.from.sequence !== undefined ? { fromSequence: s.from.sequence } : {}),
              ...(s.from.time !== undefined ? { fromTime: s.from.time } : {}),
            },
          ]
        : [],
    );
  const durable = await JetStreamEvents.start({
    identity: options.identity,
    logger,
    grant: (request) => controlPlane.getEventStore(request),
    subscriptions: events,
    cache,
    revoked: (uri) => isRevoked(cache.policies, uri),
    starts: startsOf(options.subscriptions ?? []),
    ...(maxPayloadBytes !== undefined ? { maxPayloadBytes } : {}),
    ...(options.client?.hopLimit !== undefined ? { hopLimit: options.client.hopLimit } : {}),
    mayPublish: (topic) => callers.publishRefusal(options.identity.self, topic),
    ...(options.publishes ? { topics: options.publishes } : {}),
    ...(options.publisher?.backoffMs !== undefined ? { backoffMs: options.publisher.backoffMs } : {}),
    ...(options.publisher?.maxBackoffMs !== undefined
      ? { maxBackoffMs: options.publisher.maxBackoffMs }
      : {}),
    metrics: instruments,
  });
  if (durable) {
    opened.push(() => durable.close());
    // New policies may change what NATS lets this agent do: new credentials, reconnecting when they differ. After
    // a random delay of up to 5 s, so that a fleet does not ask the control plane all at once.
    let refreshing: NodeJS.Timeout | undefined;
    const stopFollowingPolicies = cache.onChange((change) => {
      if (change !== 'policies' || refreshing) return;
      refreshing = setTimeout(() => {
        refreshing = undefined;
        durable
          .refresh()
          .catch((error: unknown) => logger.warn({ err: error }, 'event store credentials not renewed'));
      }, Math.random() * 5_000);
      refreshing.unref();
    });
    opened.push(() => {
      stopFollowingPolicies();
      clearTimeout(refreshing);
    });
  }
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
    durableEvents: durable,
    publish: async (topic, payload, publishOptions) =>
      durable
        ? durable.publish(topic, payload, publishOptions)
        : publisher.publish(topic, payload, publishOptions),
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
        await register();
        await durable?.refresh(startsOf([{ ...subscribeOptions, pattern, handler }]));
      } catch (error) {
        if (!previous) events.remove(subscription);
        throw error;
      }
      return async () => {
        // After the agent left the mesh there is no registration to change.
        if (events.remove(subscription) && !registration.deregistered) {
          await register();
          await durable?.refresh();
        }
      };
    },
    drain(graceMs = options.drainGraceMs ?? 10_000) {
      drained ??= drainAgent(
        {
          ...{ registration, calls, events, publisher, durable, renewer, stopWatchingSelf, server },
          ...{ mesh, cache, controlPlane, instruments, metricsServer, logger },
        },
        graceMs,
      ).finally(() => forgetSignalDrain(agent));
      return drained;
    },
  };
  if (options.handleSignals) drainOnSignals(agent, logger, options.drainGraceMs ?? 10_000);
  return agent;
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
