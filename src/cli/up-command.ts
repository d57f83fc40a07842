import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { startAuditor } from '../../examples/audit-agent.js';
import { startPlanner } from '../../examples/planner-agent.js';
import type { ExampleAgentOptions } from '../../examples/standalone.js';
import { startSummarizer } from '../../examples/summarizer-agent.js';
import type { RunningAgent } from '../agent/agent-runtime.js';
import { startControlPlane, type RunningControlPlane } from '../control-plane/control-plane.js';
import { MemoryStore } from '../control-plane/stores/memory-store.js';
import { formatDuration } from '../core/duration.js';
import { ensureCaDir, ensureIdentity } from '../identity/certs-dir.js';
import { CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import { AgentMetrics } from '../observability/agent-metrics.js';
import { metricsRoute, startHttpServer, type RunningHttpServer } from '../observability/http-server.js';
import { createLogger } from '../observability/logger.js';
import { MeshIdentity } from '../transport/mesh-identity.js';
import { startGateway, type RunningGateway } from '../edge/gateway.js';
import { CLI_VERSION } from './version.js';
import {
  durationOption,
  httpListenArgument,
  listenArgument,
  logLevelOption,
  natsUrlsArgument,
} from './run.js';
import { listenForShutdown } from './shutdown-signal.js';

interface UpOptions {
  certs: string;
  listen: string;
  httpListen: string;
  metricsListen: string;
  gatewayListen: string;
  trustDomain: string;
  interval: number;
  events?: string[];
  logLevel: LevelWithSilent;
}

/** One example agent that `up` runs in-process: its identity name, what it does, and how to start it. */
interface ExampleAgent {
  name: string;
  /** The agent type it registers as: its certificate entitles it to it. */
  type: string;
  /** What it does, for the banner. */
  role(options: UpOptions): string;
  start(agent: ExampleAgentOptions, options: UpOptions): Promise<RunningAgent>;
}

/**
 * The agents of the local mesh (examples/), in start order: the ones that are called or subscribe come first, so
 * that the planner finds them from its first task. They stop in the reverse order: the planner finishes its task
 * and delivers its events before the agents it uses go away.
 */
const EXAMPLE_AGENTS: readonly ExampleAgent[] = [
  ...['summarizer-1', 'summarizer-2'].map((name): ExampleAgent => ({
    name,
    type: 'summarizer',
    role: () => 'summarizer: skill summarize, streamed method summarize-stream',
    start: startSummarizer,
  })),
  {
    name: 'auditor-1',
    type: 'auditor',
    role: () => "auditor: logs the events of 'tasks.>'; skill audit-trail",
    start: startAuditor,
  },
  {
    name: 'planner-1',
    type: 'planner',
    role: (options) =>
      `planner: every ${formatDuration(options.interval)} a task for a summarizer; publishes tasks.completed or tasks.failed`,
    start: (agent, options) => startPlanner({ ...agent, intervalMs: options.interval }),
  },
];

/** The identity `agent-mesh publish` and `subscribe` use by default: issued too, so that the banner's hints work. */
const CLI_NAME = 'cli';
const DEFAULT_CERTS = 'certs';
const DEFAULT_LISTEN = '127.0.0.1:7400';
const DEFAULT_HTTP_LISTEN = '127.0.0.1:7401';
const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';
const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:7410';
/** The identity the gateway follows the registry with; its clients act as their tokens' identities. */
const GATEWAY_NAME = 'gateway';
/**
 * How long stopping may take in all: the agents' drains (their calls and events in flight), one after the other,
 * then the control plane. Usually it takes a fraction of a second.
 */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * `agent-mesh up` (`npm start`): a local mesh on embedded defaults. It creates a development CA and identities in
 * the certificate directory when they are missing, starts a control plane with the in-memory store, and runs the
 * example agents of examples/ in this process: two summarizers, an auditor subscribed to `tasks.>`, and a planner
 * that sends tasks to the summarizers through the mesh and publishes their results. Ctrl-C (or SIGTERM) drains the
 * agents, stops the control plane and exits 0, within a few seconds at most (a repeated Ctrl-C changes nothing).
 */
export function createUpCommand(): Command {
  return new Command('up')
    .description('run a local mesh on embedded defaults: control plane, example agents and real mTLS traffic')
    .addOption(
      new Option('--certs <dir>', 'certificate directory (created when missing)')
        .default(DEFAULT_CERTS)
        .env('AGENT_MESH_CERTS'),
    )
    .addOption(
      new Option('--listen <host:port>', 'control plane address (port 0: a free port)')
        .default(DEFAULT_LISTEN)
        .env('AGENT_MESH_LISTEN')
        .argParser(listenArgument),
    )
    .addOption(
      new Option('--http-listen <host:port>', "the control plane's dashboard and /metrics")
        .default(DEFAULT_HTTP_LISTEN)
        .env('AGENT_MESH_HTTP_LISTEN')
        .argParser(httpListenArgument),
    )
    .addOption(
      new Option(
        '--metrics-listen <host:port>',
        "/metrics of the example agents (one port for this process's agents)",
      )
        .default(DEFAULT_METRICS_LISTEN)
        .env('AGENT_MESH_METRICS_LISTEN')
        .argParser(httpListenArgument),
    )
    .addOption(
      new Option(
        '--gateway-listen <host:port>',
        'the gateway for MCP and A2A clients (/mcp, /a2a), with bearer tokens',
      )
        .default(DEFAULT_GATEWAY_LISTEN)
        .env('AGENT_MESH_GATEWAY_LISTEN')
        .argParser(httpListenArgument),
    )
    .option('--trust-domain <domain>', 'trust domain of a newly created CA', 'agentmesh.local')
    .addOption(durationOption('--interval <duration>', "time between the planner's tasks", 1_000))
    .addOption(
      new Option(
        '--events <urls>',
        'keep events durable on NATS JetStream at these URLs (after `agent-mesh ca nats`); default: brokerless',
      )
        .env('AGENT_MESH_EVENTS')
        .argParser(natsUrlsArgument),
    )
    .addOption(logLevelOption('info'))
    .action((options: UpOptions) => runLocalMesh(options));
}

async function runLocalMesh(options: UpOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel });
  // Listening from the start: a Ctrl-C while the mesh starts stops what has started so far.
  const shutdown = listenForShutdown(logger);
  try {
    const ca = await ensureCaDir(options.certs, options.trustDomain);
    await ensureIdentity(options.certs, CONTROL_PLANE_NAME);
    await ensureIdentity(options.certs, CLI_NAME, { types: [CLI_NAME] }); // `agent-mesh subscribe` registers as type cli
    const gatewayIdentity = new MeshIdentity(
      await ensureIdentity(options.certs, GATEWAY_NAME, { types: [] }),
    );
    const identities = new Map<string, MeshIdentity>();
    for (const { name, type } of EXAMPLE_AGENTS) {
      identities.set(name, new MeshIdentity(await ensureIdentity(options.certs, name, { types: [type] })));
    }
    const controlPlane = await startControlPlane({
      certsDir: options.certs,
      listen: options.listen,
      store: new MemoryStore(),
      logger,
      httpListen: options.httpListen,
      ...(options.events ? { events: { servers: options.events } } : {}),
    });
    // The example agents share one registry, served on one port: the metrics of this process.
    const metrics = new AgentMetrics();
    let metricsServer: RunningHttpServer | undefined;
    let gateway: RunningGateway | undefined;
    const running: Array<{ example: ExampleAgent; agent: RunningAgent }> = [];
    try {
      metricsServer = await startHttpServer({
        listen: options.metricsListen,
        routes: { '/metrics': metricsRoute(metrics.registry) },
        logger,
      });
      for (const example of EXAMPLE_AGENTS) {
        if (shutdown.came) break;
        const identity = identities.get(example.name)!;
        const agent = await example.start(
          { identity, controlPlane: controlPlane.address, logger, metrics },
          options,
        );
        running.push({ example, agent });
      }
      if (!shutdown.came) {
        gateway = await startGateway({
          identity: gatewayIdentity,
          controlPlane: controlPlane.address,
          certsDir: options.certs,
          listen: options.gatewayListen,
          logger,
          version: CLI_VERSION,
        });
      }
      if (!shutdown.came) {
        console.log(
          bannerLines({
            options,
            trustDomain: ca.trustDomain,
            controlPlane,
            running,
            metricsServer,
            gateway: gateway!,
          }).join('\n'),
        );
      }
      logger.info(
        { signal: await shutdown.received },
        'stopping: draining the agents, then the control plane',
      );
    } finally {
      const until = Date.now() + SHUTDOWN_GRACE_MS;
      const remaining = () => Math.max(0, until - Date.now());
      for (const { agent } of running.reverse()) {
        await agent.drain(remaining()).catch((error: unknown) => {
          logger.warn({ err: error, agent: agent.name }, 'drain failed');
        });
      }
      await gateway?.close();
      await metricsServer?.close();
      await controlPlane.close(Math.min(1_000, remaining()));
    }
    logger.info('local mesh stopped');
  } finally {
    shutdown.dispose();
  }
}

/** What the banner describes: the running mesh and how it was started. */
interface MeshSummary {
  options: UpOptions;
  trustDomain: string;
  controlPlane: RunningControlPlane;
  running: Array<{ example: ExampleAgent; agent: RunningAgent }>;
  metricsServer: RunningHttpServer;
  gateway: RunningGateway;
}

/**
 * The lines printed once the mesh runs: what runs where, and commands to try against it. Every line of the banner
 * comes from here, so a new part of the mesh adds its line in this one place.
 */
function bannerLines({
  options,
  trustDomain,
  controlPlane,
  running,
  metricsServer,
  gateway,
}: MeshSummary): string[] {
  const row = (label: string, text: string) => `  ${label.padEnd(15)}${text}`;
  const nameWidth = Math.max(...running.map(({ agent }) => agent.name.length));
  const addressWidth = Math.max(...running.map(({ agent }) => agent.address.length));
  // Commands to try in another terminal: the CLI's defaults are `certs` and 127.0.0.1:7400; anything else is
  // exported first, so that the commands stay the same.
  const exports = [
    ...(options.certs === DEFAULT_CERTS ? [] : [`AGENT_MESH_CERTS=${shellWord(resolve(options.certs))}`]),
    ...(controlPlane.address === DEFAULT_LISTEN ? [] : [`AGENT_MESH_CONTROL_PLANE=${controlPlane.address}`]),
    // `agent-mesh top` reads the dashboard.
    ...(controlPlane.httpUrl === undefined || controlPlane.httpUrl === `http://${DEFAULT_HTTP_LISTEN}`
      ? []
      : [`AGENT_MESH_DASHBOARD=${controlPlane.httpUrl.replace(/^http:\/\//, '')}`]),
  ];
  const tries = [
    ...(exports.length > 0 ? [`export ${exports.join(' ')}`] : []),
    'npx agent-mesh agents list',
    `npx agent-mesh call summarizer summarize '{"title": "hi", "text": "Agents talk. Meshes listen."}'`,
    "npx agent-mesh subscribe 'tasks.>'",
    `npx agent-mesh publish tasks.noted '{"task": "by hand"}'`,
    'npm run ca -- issue summarizer-3 --type summarizer && npx tsx examples/summarizer-agent.ts',
  ];
  return [
    'agent-mesh: local mesh running; Ctrl-C stops it',
    row('control plane', `${controlPlane.address} (trust domain ${trustDomain}, in-memory store)`),
    row('dashboard', `${controlPlane.httpUrl}/`),
    row('metrics', `${controlPlane.httpUrl}/metrics (control plane), ${metricsServer.url}/metrics (agents)`),
    row('certificates', resolve(options.certs)),
    row(
      'edge',
      `MCP ${gateway.url}/mcp, A2A ${gateway.url}/a2a (a token: npx agent-mesh gateway token create cli)`,
    ),
    row(
      'events',
      options.events ? `durable, on NATS JetStream at ${options.events.join(', ')}` : 'brokerless',
    ),
    ...running.map(({ example, agent }, i) =>
      row(
        i === 0 ? 'agents' : '',
        `${agent.name.padEnd(nameWidth)}  ${agent.address.padEnd(addressWidth)}  ${example.role(options)}`,
      ),
    ),
    ...tries.map((command, i) => row(i === 0 ? 'try' : '', command)),
  ];
}

/** `text` as one word for a POSIX shell: as it is when that is safe, else in single quotes. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
