/**
 * What the example agents share: the options their `start…` functions take, and how an example runs as a program
 * of its own (`npx tsx examples/<example>.ts`), configured like the `agent-mesh` CLI:
 *
 * - AGENT_MESH_CERTS: the certificate directory (default `certs`), which holds the trust bundle and the identity;
 * - AGENT_MESH_NAME: the identity to run as, `<name>.crt` and `<name>.key` in that directory (each example has a
 *   default that does not clash with the agents `npm start` runs);
 * - AGENT_MESH_CONTROL_PLANE: the control plane's `host:port` (default `127.0.0.1:7400`, where `npm start` listens);
 * - AGENT_MESH_LOG_LEVEL: the log level (default `info`);
 * - AGENT_MESH_METRICS_LISTEN: `host:port` where the agent serves its Prometheus `/metrics` over HTTP, e.g.
 *   `127.0.0.1:9465` (default: none; `npm start` serves its agents' metrics on 127.0.0.1:9464, so pick another port).
 *
 * The examples import the package by its name, as your own project does: `agent-mesh` (the public API) and its
 * subpaths (`agent-mesh/observability`, ...), which resolve to `src/` here (tsconfig `paths`) and to `dist/` when
 * the package is built or installed.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  Code,
  ControlPlaneClient,
  MeshError,
  MeshIdentity,
  createLogger,
  identityNameOf,
  loadIdentity,
  silentLogger,
  type Logger,
  type RunningAgent,
} from 'agent-mesh';
import type { AgentMetrics } from 'agent-mesh/observability';

/** What every example's start function takes. */
export interface ExampleAgentOptions {
  /** Who the agent is: its certificate and key. The last segment of its SPIFFE ID is the agent's name. */
  identity: MeshIdentity;
  /** `host:port` of the control plane. */
  controlPlane: string;
  /** Where the agent logs (default: nowhere). */
  logger?: Logger;
  /** The Prometheus metrics it adds to (default: a registry of its own); `npm start` shares one among its agents. */
  metrics?: AgentMetrics;
  /** `host:port` where the agent serves `/metrics` over HTTP (default: none). */
  metricsListen?: string;
}

/** The logger an example writes its own lines with, tagged with the agent's name as the runtime's lines are. */
export function exampleLogger(options: ExampleAgentOptions): Logger {
  const name = identityNameOf(options.identity.spiffeId) ?? options.identity.spiffeId.uri;
  return (options.logger ?? silentLogger()).child({ agent: name });
}

/** Whether the module at `moduleUrl` is the program Node.js was started with, rather than imported by another. */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}

/**
 * Runs one example agent as its own program: loads the identity the environment names, starts the agent, and on
 * Ctrl-C (SIGINT) or SIGTERM drains it (in-flight work finishes, the agent deregisters) and exits 0. A missing
 * identity, an unreachable control plane or a bad setting (e.g. an unknown log level) is reported in one line, with
 * exit code 1.
 */
export async function runStandalone(
  defaultName: string,
  start: (options: ExampleAgentOptions) => Promise<RunningAgent>,
): Promise<void> {
  const certs = process.env.AGENT_MESH_CERTS ?? 'certs';
  const name = process.env.AGENT_MESH_NAME ?? defaultName;
  const controlPlane = process.env.AGENT_MESH_CONTROL_PLANE ?? '127.0.0.1:7400';
  const metricsListen = process.env.AGENT_MESH_METRICS_LISTEN;
  let logger: Logger;
  let agent: RunningAgent;
  try {
    logger = createLogger();
    const identity = new MeshIdentity(await loadIdentity(certs, name));
    await checkControlPlane(identity, controlPlane);
    agent = await start({
      identity,
      controlPlane,
      logger,
      ...(metricsListen !== undefined ? { metricsListen } : {}),
    });
  } catch (error) {
    if (!(error instanceof MeshError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  // The listener stays for repeated signals: one Ctrl-C can arrive twice (from the terminal, and relayed by tsx),
  // and without a listener the second one would end the process in the middle of its drain.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void agent.drain(5_000).finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const metricsUrl = agent.metricsServer ? `${agent.metricsServer.url}/metrics` : undefined;
  logger.info(
    {
      agent: agent.name,
      address: agent.address,
      controlPlane,
      ...(metricsUrl ? { metrics: metricsUrl } : {}),
    },
    `${agent.name} is running${metricsUrl ? `, metrics at ${metricsUrl}` : ''}; Ctrl-C stops it`,
  );
}

/**
 * Asks the control plane for its policies once (up to 5 s), so that a wrong address fails at once with a clear
 * message.
 * @throws MeshError UNAVAILABLE naming the address and how to change it.
 */
async function checkControlPlane(identity: MeshIdentity, address: string): Promise<void> {
  let client: ControlPlaneClient | undefined;
  try {
    // Inside the try: grpc-js refuses some addresses (an empty one) when the channel is made.
    client = new ControlPlaneClient({ address, identity, timeoutMs: 5_000 });
    await client.getPolicies();
  } catch (error) {
    const failure = MeshError.from(error);
    if (failure.code === Code.INVALID_ARGUMENT) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid AGENT_MESH_CONTROL_PLANE "${address}": ${failure.message}`,
      );
    }
    throw new MeshError(
      Code.UNAVAILABLE,
      `cannot reach the control plane at ${address}: ${failure.message} (is \`npm start\` running? AGENT_MESH_CONTROL_PLANE sets the address)`,
    );
  } finally {
    client?.close();
  }
}
