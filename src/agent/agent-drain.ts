import type { ControlPlaneClient } from '../control-plane/client.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import type { MeshClient } from '../data-plane/mesh-client.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { RunningHttpServer } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { flushTracing } from '../observability/tracing.js';
import type { EventPublisher } from '../pubsub/publisher.js';
import type { SubscriptionSet } from '../pubsub/subscriber.js';
import type { JetStreamEvents } from '../pubsub/jetstream/jetstream-events.js';
import type { RunningServer } from '../transport/server.js';
import type { CallScheduler } from './call-scheduler.js';
import type { CertificateRenewer } from './certificate-renewer.js';
import type { AgentRegistration } from './registration.js';

/** The parts of a running agent a drain stops, in the order it stops them. */
export interface DrainableAgent {
  registration: AgentRegistration;
  calls: CallScheduler;
  events: SubscriptionSet;
  publisher: EventPublisher;
  /** Durable events (JetStream), when the mesh has an event store. */
  durable: JetStreamEvents | undefined;
  renewer: CertificateRenewer;
  /** Stops reacting to the agent's own absence from the control plane's snapshots. */
  stopWatchingSelf: () => void;
  server: RunningServer;
  mesh: MeshClient;
  cache: EndpointCache;
  controlPlane: ControlPlaneClient;
  instruments: AgentInstruments;
  metricsServer: RunningHttpServer | undefined;
  logger: Logger;
}

/**
 * Drains an agent within `graceMs`: marks it draining, waits for in-flight calls and event handlers and for its
 * own published events to be delivered, deregisters, stops its server (cutting the long-lived streams left), and
 * closes everything it opened.
 */
export async function drainAgent(agent: DrainableAgent, graceMs: number): Promise<void> {
  const { registration, calls, events, publisher, server } = agent;
  const until = Date.now() + graceMs;
  const remaining = () => Math.max(0, until - Date.now());
  // Calls to the control plane get a share of the grace, never all of it: an unreachable control plane
  // must not keep the agent from finishing its work and exiting in time.
  await registration.drain(Math.min(2_000, remaining() / 4));
  await calls.idle(remaining());
  // Durable subscriptions stop taking events first; what they hold is handled (or redelivered to another).
  await agent.durable?.drain(remaining());
  await events.settled(remaining());
  await publisher.flush(remaining());
  agent.stopWatchingSelf();
  agent.renewer.stop();
  await registration.deregister(Math.min(2_000, remaining() / 2));
  // The server stops taking calls and has the rest of the grace for those still arriving or running; the
  // long-lived streams left after them (event deliveries, health watches) are cut at once.
  const stopped = server.shutdown(remaining());
  await Promise.race([stopped, calls.idle(remaining()).then(() => events.settled(remaining()))]);
  server.forceShutdown();
  await stopped;
  publisher.close();
  await agent.durable?.close();
  events.close();
  agent.mesh.close();
  agent.cache.close();
  agent.controlPlane.close();
  agent.instruments.close();
  await agent.metricsServer?.close();
  await flushTracing(Math.max(100, remaining()));
  agent.logger.info('agent drained and stopped');
}
