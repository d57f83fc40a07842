import { startAgent, type RunningAgent } from '../agent/agent-runtime.js';
import type { MeshClientOptions } from '../data-plane/mesh-client.js';
import { Code, MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { identityNameOf } from '../core/spiffe-id.js';
import { AppConnection, SIDECAR_METADATA, type AppHealth } from './app-connection.js';
import { AppHealthMonitor } from './app-health.js';
import { ForwardedCalls } from './forwarded-calls.js';
import { forwardingAgentService } from './forwarding-service.js';
import { localAddress, loopbackAddress, socketPath, type LocalAddress } from './local-address.js';
import { startOutboundServer, type RunningOutboundServer } from './outbound-server.js';
import { defaultSocketDir, preparePrivateDir, removeStaleSocket } from './private-socket.js';

/** The outbound socket's file name in the socket directory. */
export const OUTBOUND_SOCKET = 'outbound.sock';

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
  /**
   * The app's plaintext gRPC server (`agentmesh.v1.Agent` and `grpc.health.v1`): `unix:/abs/path`, best in the
   * socket directory (then no other user's process can call the app past the sidecar), or a loopback `host:port`.
   */
  app: string;
  /** `host:port` of the agent's mTLS server, the registered endpoint (default `127.0.0.1:0`). */
  listen?: string;
  /**
   * The directory of the outbound socket (`outbound.sock`), which the app calls: created with mode 0700 when
   * missing; an existing one must belong to this user and be closed to group and others. Default: see
   * {@link defaultSocketDir} (`$XDG_RUNTIME_DIR/agent-mesh/<name>`, else `<tmpdir>/agent-mesh-<uid>/<name>`).
   * Not with `outboundListen`.
   */
  socketDir?: string;
  /**
   * Serves the outbound port on this loopback `host:port` instead of the socket: any local process can then act as
   * the agent, so it needs `allowTcpOutbound` and logs a warning at start.
   */
  outboundListen?: string;
  /** Allows `outboundListen`, knowing that every local process can act as the agent through it. */
  allowTcpOutbound?: boolean;
  /** Time between two checks of the app's health (default 1 s). */
  healthIntervalMs?: number;
  /** How long the app may take to answer the first health check at start (default 5 s). */
  startTimeoutMs?: number;
  leaseTtlMs?: number;
  /** How long a drain waits for calls in flight (default 10 s). */
  drainGraceMs?: number;
  /**
   * Subscriptions the sidecar registers for the app: each delivery goes to the app's
   * `agentmesh.v1.EventHandler.HandleEvent`, whose answer acknowledges it.
   */
  subscriptions?: SidecarSubscription[];
  /** The topics (or patterns) the app publishes to through `Events.Publish` (default: every topic). */
  publishes?: string[];
  /** How long the app may take to handle one event (default 30 s, the publishers' default ack timeout). */
  eventTimeoutMs?: number;
  /** Options for the mesh client that carries the app's outbound calls. */
  client?: Partial<Omit<MeshClientOptions, 'identity' | 'cache' | 'logger'>>;
  logger?: Logger;
}

/** One subscription of the sidecar, handled by its app. */
export interface SidecarSubscription {
  pattern: string;
  /** Subscriptions sharing a group split the events, one delivery per group. */
  group?: string;
  /** Deliveries handed to the app at once (default 64). */
  maxInFlight?: number;
}

/** A running sidecar. */
export interface RunningSidecar {
  /** The agent it runs for the app: its name, its mTLS address (the registered endpoint), its mesh client. */
  agent: RunningAgent;
  /** Where the app calls the mesh (plaintext): `unix:/path` of the outbound socket, or loopback `host:port`. */
  outboundAddress: string;
  /** The private directory of the outbound socket (undefined on a TCP outbound port). */
  socketDir: string | undefined;
  /** Where the app serves (plaintext): `unix:/path` or loopback `host:port`. */
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
 * Runs a sidecar for an app that speaks plain gRPC on a local socket or loopback (in any language): an agent of the
 * mesh on the app's behalf, built on {@link startAgent}. Inbound, it serves `agentmesh.v1.Agent` over mTLS, checks
 * the control plane's policies, and forwards every `Invoke` and `InvokeStream` to the app's own
 * `agentmesh.v1.Agent` server (chunk by chunk for streams) as bytes, reading only the method and replacing the
 * request's `context` (see {@link forwardingAgentService}), telling it the verified caller (`x-agentmesh-caller`),
 * a token for the call (`x-agentmesh-call-token`) and the propagated context and deadline. Outbound, it serves a
 * plaintext port whose calls go out through the agent's mesh client as the agent, and whose `Events.Publish`
 * publishes as the agent (see {@link startOutboundServer}):
 * by default a Unix socket in a directory only this user can enter, so that no other local process can act as the
 * agent. It registers, heartbeats and renews the certificate like any agent, and mirrors the app's
 * `grpc.health.v1` status on its mTLS server, where the control plane's active health checks see it. Events of its
 * `subscriptions` go to the app's `agentmesh.v1.EventHandler.HandleEvent`, once checked like any delivery.
 * @throws MeshError INVALID_ARGUMENT for an address that is not loopback or an absolute socket path where it must
 * be, or `outboundListen` without `allowTcpOutbound` (or with `socketDir`); FAILED_PRECONDITION for a socket
 * directory others can reach or a socket another process listens on; UNAVAILABLE when the app does not answer its
 * health check at start or a port cannot be bound; or what {@link startAgent} throws.
 */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const appTarget = localAddress(options.app, 'app address');
  const appAddress = appTarget.address;
  const outboundChoice = chooseOutbound(options);
  const logger = options.logger ?? silentLogger();
  const calls = new ForwardedCalls();
  const eventTimeoutMs = options.eventTimeoutMs ?? 30_000;
  const app = new AppConnection(appAddress, calls);
  let agent: RunningAgent | undefined;
  try {
    const first = await app.checkHealth(options.startTimeoutMs ?? 5_000);
    if (!first.ok) throw unreachable(appAddress, first);
    // Before the agent registers: a directory others can reach, or a sidecar already running there, is refused first.
    const outboundTarget =
      outboundChoice.kind === 'tcp' ? outboundChoice : await prepareOutboundSocket(outboundChoice.dir);
    agent = await startAgent({
      identity: options.identity,
      controlPlane: options.controlPlane,
      type: options.type,
      capabilities: options.capabilities ?? [],
      labels: options.labels ?? {},
      description: options.description ?? `sidecar for the app at ${appAddress}`,
      listen: options.listen ?? '127.0.0.1:0',
      agentService: (serviceOptions) => forwardingAgentService(serviceOptions, app),
      subscriptions: (options.subscriptions ?? []).map((subscription) => ({
        ...subscription,
        handler: (event) => app.handleEvent(event, eventTimeoutMs),
      })),
      ...(options.publishes ? { publishes: options.publishes } : {}),
      logger,
      ...(options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {}),
      ...(options.drainGraceMs !== undefined ? { drainGraceMs: options.drainGraceMs } : {}),
      ...(options.client ? { client: options.client } : {}),
    });
    const running = agent;
    const outboundLogger = logger.child({ agent: running.name, component: 'sidecar-outbound' });
    const outbound: RunningOutboundServer = await startOutboundServer({
      address: outboundTarget,
      mesh: running.mesh,
      calls,
      publish: (topic, payload, publishOptions) => running.publish(topic, payload, publishOptions),
      logger: outboundLogger,
    });
    if (outboundTarget.kind === 'tcp') {
      outboundLogger.warn(
        { outbound: outbound.address },
        `the outbound port is on TCP (${outbound.address}): any local process, of any user, can call other agents ` +
          `through it as ${running.name}; serve it on the default Unix socket unless every local process is trusted ` +
          'as this agent',
      );
    }
    const exposure = await appExposure(appTarget);
    if (exposure) logger.warn({ app: appAddress }, exposure);
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
      socketDir: outboundTarget.kind === 'unix' ? dirname(outboundTarget.path) : undefined,
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

/**
 * Where the outbound port is to listen: in the socket directory (the default one unless given), or on the loopback
 * port the options explicitly allow.
 * @throws MeshError INVALID_ARGUMENT for a wrong combination of options, or an address off loopback.
 */
function chooseOutbound(
  options: SidecarOptions,
): Extract<LocalAddress, { kind: 'tcp' }> | { kind: 'dir'; dir: string } {
  if (options.outboundListen !== undefined) {
    if (!options.allowTcpOutbound) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `an outbound port on TCP (${options.outboundListen}) lets any local process act as this agent: leave it out ` +
          'to use the Unix socket (the default), or allow it explicitly (--allow-tcp-outbound, allowTcpOutbound)',
      );
    }
    if (options.socketDir !== undefined) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        'the socket directory holds the outbound socket, which an outbound port on TCP replaces: give one of ' +
          '--socket-dir and --outbound-listen, not both',
      );
    }
    return { kind: 'tcp', address: loopbackAddress(options.outboundListen, 'outbound listen address') };
  }
  if (options.allowTcpOutbound) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      '--allow-tcp-outbound (allowTcpOutbound) allows an outbound port on TCP, but none is given: add ' +
        '--outbound-listen 127.0.0.1:<port>, or leave it out to use the Unix socket',
    );
  }
  const name = identityNameOf(options.identity.spiffeId) ?? 'sidecar';
  return { kind: 'dir', dir: options.socketDir ?? defaultSocketDir(name) };
}

/**
 * Makes `dir` private (see {@link preparePrivateDir}) and clears the way for the outbound socket in it.
 * @throws MeshError FAILED_PRECONDITION for a directory others can reach or a socket another process listens on.
 */
async function prepareOutboundSocket(dir: string): Promise<Extract<LocalAddress, { kind: 'unix' }>> {
  const real = await preparePrivateDir(dir);
  const path = socketPath(join(real, OUTBOUND_SOCKET), 'outbound socket');
  await removeStaleSocket(path);
  return { kind: 'unix', path, address: `unix:${path}` };
}

/** Why other local processes could call the app directly, past the sidecar's policies, if they can. */
async function appExposure(app: LocalAddress): Promise<string | undefined> {
  const forged = `with a forged ${SIDECAR_METADATA.caller}`;
  if (app.kind === 'tcp') {
    return (
      `the app listens on TCP (${app.address}): any local process can call it directly, past the policies, ` +
      `${forged}; serve it on a Unix socket in the socket directory (unix:<dir>/app.sock) instead`
    );
  }
  const dir = await stat(dirname(app.path)).catch(() => undefined);
  const uid = process.getuid?.();
  if (dir && ((dir.mode & 0o077) !== 0 || (uid !== undefined && dir.uid !== uid))) {
    return (
      `the app's socket ${app.path} is in a directory other users may enter: they could call the app directly, ` +
      `past the policies, ${forged}; put it in the socket directory (mode 0700)`
    );
  }
  return undefined;
}

function unreachable(address: string, health: Extract<AppHealth, { ok: false }>): MeshError {
  return new MeshError(
    Code.UNAVAILABLE,
    `the app at ${address} does not answer grpc.health.v1 Check (${health.reason}): start it first, serving ` +
      'agentmesh.v1.Agent and grpc.health.v1 over plaintext gRPC on that address, or fix --app',
  );
}
