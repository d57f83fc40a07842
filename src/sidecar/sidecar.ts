import { startAgent, type RunningAgent } from '../agent/agent-runtime.js';
import type { MeshClientOptions } from '../data-plane/mesh-client.js';
import { Code, MeshError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { AppConnection, type AppHealth } from './app-connection.js';
import { AppHealthMonitor } from './app-health.js';
import { loopbackAddress } from './loopback.js';
import { startOutboundServer, type RunningOutboundServer } from './outbound-server.js';

/** What a sidecar runs beside: its app, and the agent it makes of it. */
export interface SidecarOptions {
  /** The agent's identity (`spiffe://<td>/agent/<name>`): the sidecar registers and calls as it. */
  identity: MeshIdentity;
  /** `host:port` of the control plane. */
  controlPlane: string;
  type: string;
  capabilities?: string[];
  labels?: Record<string, string>;
  description?: string;
  /** Loopback `host:port` of the app's plaintext gRPC server (`agentmesh.v1.Agent` and `grpc.health.v1`). */
  app: string;
  /** `host:port` of the agent's mTLS server, the registered endpoint (default `127.0.0.1:0`). */
  listen?: string;
  /** Loopback `host:port` of the plaintext outbound port for the app's own calls (default `127.0.0.1:0`). */
  outboundListen?: string;
  /** Time between two checks of the app's health (default 1 s). */
  healthIntervalMs?: number;
  /** How long the app may take to answer the first health check at start (default 5 s). */
  startTimeoutMs?: number;
  leaseTtlMs?: number;
  /** How long a drain waits for calls in flight (default 10 s). */
  drainGraceMs?: number;
  /** Options for the mesh client that carries the app's outbound calls. */
  client?: Partial<Omit<MeshClientOptions, 'identity' | 'cache' | 'logger'>>;
  logger?: Logger;
}

/** A running sidecar. */
export interface RunningSidecar {
  /** The agent it runs for the app: its name, its mTLS address (the registered endpoint), its mesh client. */
  agent: RunningAgent;
  /** Where the app calls the mesh (plaintext, loopback). */
  outboundAddress: string;
  /** Where the app serves (plaintext, loopback). */
  appAddress: string;
  /** Whether the app answered SERVING at the last health check. */
  appServing(): boolean;
  /**
   * Drains: stops following the app's health, lets inbound calls finish (the app's outbound calls made for
   * them still pass), deregisters, then closes the outbound port and the connection to the app.
   */
  stop(graceMs?: number): Promise<void>;
}

/** The name of the generic service whose health follows the app's, beside the whole server's. */
const AGENT_SERVICE = 'agentmesh.v1.Agent';

/**
 * Runs a sidecar for an app that speaks plain gRPC on loopback (in any language): an agent of the mesh on the
 * app's behalf, built on {@link startAgent}. Inbound, it serves `agentmesh.v1.Agent` over mTLS, checks the
 * control plane's policies, and forwards every `Invoke` and `InvokeStream` to the app's own `agentmesh.v1.Agent`
 * server (chunk by chunk for streams), telling it the verified caller (`x-agentmesh-caller`) and the propagated
 * context and deadline. Outbound, it serves a plaintext loopback port whose calls go out through the agent's mesh
 * client (see {@link startOutboundServer}). It registers, heartbeats and renews the certificate like any agent,
 * and mirrors the app's `grpc.health.v1` status on its mTLS server, where the control plane's active health checks
 * see it.
 * @throws MeshError INVALID_ARGUMENT for an address that is not loopback where it must be, UNAVAILABLE when the
 * app does not answer its health check at start or a port cannot be bound, or what {@link startAgent} throws.
 */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const appAddress = loopbackAddress(options.app, 'app address');
  const outboundListen = loopbackAddress(options.outboundListen ?? '127.0.0.1:0', 'outbound listen address');
  const logger = options.logger ?? silentLogger();
  const app = new AppConnection(appAddress);
  let agent: RunningAgent | undefined;
  try {
    const first = await app.checkHealth(options.startTimeoutMs ?? 5_000);
    if (!first.ok) throw unreachable(appAddress, first);
    agent = await startAgent({
      identity: options.identity,
      controlPlane: options.controlPlane,
      type: options.type,
      capabilities: options.capabilities ?? [],
      labels: options.labels ?? {},
      description: options.description ?? `sidecar for the app at ${appAddress}`,
      listen: options.listen ?? '127.0.0.1:0',
      fallback: { method: (method) => app.unary(method), stream: (method) => app.streamed(method) },
      logger,
      ...(options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {}),
      ...(options.drainGraceMs !== undefined ? { drainGraceMs: options.drainGraceMs } : {}),
      ...(options.client ? { client: options.client } : {}),
    });
    const running = agent;
    const outbound: RunningOutboundServer = await startOutboundServer({
      address: outboundListen,
      mesh: running.mesh,
      logger: logger.child({ agent: running.name, component: 'sidecar-outbound' }),
    });
    const monitor = new AppHealthMonitor({
      check: (timeoutMs) => app.checkHealth(timeoutMs),
      health: running.server.health,
      services: [AGENT_SERVICE],
      logger: logger.child({ agent: running.name, component: 'sidecar-health' }),
      ...(options.healthIntervalMs !== undefined ? { intervalMs: options.healthIntervalMs } : {}),
    });
    monitor.start(first);
    let stopped: Promise<void> | undefined;
    return {
      agent: running,
      outboundAddress: outbound.address,
      appAddress,
      appServing: () => monitor.serving === true,
      stop(graceMs = options.drainGraceMs ?? 10_000) {
        stopped ??= (async () => {
          const until = Date.now() + graceMs;
          monitor.stop();
          await running.drain(graceMs);
          await outbound.shutdown(Math.max(0, until - Date.now()));
          app.close();
        })();
        return stopped;
      },
    };
  } catch (error) {
    await agent?.drain(0).catch(() => undefined);
    app.close();
    throw error;
  }
}

function unreachable(address: string, health: Extract<AppHealth, { ok: false }>): MeshError {
  return new MeshError(
    Code.UNAVAILABLE,
    `the app at ${address} does not answer grpc.health.v1 Check (${health.reason}): start it first, serving ` +
      'agentmesh.v1.Agent and grpc.health.v1 over plaintext gRPC on that loopback address, or fix --app',
  );
}
