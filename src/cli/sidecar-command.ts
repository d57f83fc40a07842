import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { validLabelKey, validLabelValue } from '../core/label-selector.js';
import { validateSubscriptions } from '../core/subscription.js';
import { validatePattern } from '../core/topic.js';
import type { MeshError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { SIDECAR_METADATA } from '../sidecar/app-connection.js';
import { localAddress, loopbackAddress } from '../sidecar/local-address.js';
import { OUTBOUND_SOCKET, startSidecar, type SidecarSubscription } from '../sidecar/sidecar.js';
import { connectedIdentity, withClientOptions, type ClientFlags } from './client-options.js';
import { collect, durationArgument, listenArgument, logLevelOption } from './run.js';
import { listenForShutdown } from './shutdown-signal.js';

interface SidecarFlags extends ClientFlags {
  type: string;
  app: string;
  listen: string;
  socketDir?: string;
  outboundListen?: string;
  allowTcpOutbound?: boolean;
  capability: string[];
  label: string[];
  subscribe: SidecarSubscription[];
  publish: string[];
  healthInterval: number;
  logLevel: LevelWithSilent;
}

const AGENT_TYPE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
const CAPABILITY = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/** How long stopping may take: the inbound calls in flight finish, then the agent deregisters. */
const DRAIN_GRACE_MS = 10_000;

/**
 * `agent-mesh sidecar`: makes an app that speaks plain gRPC on a local socket or loopback (in any language) an agent
 * of the mesh. The sidecar proves the agent's identity, registers and heartbeats for it, renews its certificate,
 * enforces the policies on inbound calls and forwards them to the app, carries the app's outbound calls through the
 * mesh (by default on a Unix socket only the app's user can open), and reports the app's health. Ctrl-C or SIGTERM
 * drains (deregisters) and exits 0. A wrong combination of the outbound flags is a usage error (exit 2).
 */
export function createSidecarCommand(): Command {
  const command = withClientOptions(
    new Command('sidecar')
      .description(
        'run an app that speaks plain gRPC on a Unix socket or loopback (agentmesh.v1.Agent + grpc.health.v1) as an ' +
          'agent of the mesh; the app calls other agents through the outbound socket <socket-dir>/' +
          OUTBOUND_SOCKET,
      )
      .requiredOption('--type <type>', 'the agent type to register, e.g. shouter', typeArgument)
      .requiredOption(
        '--app <address>',
        "the app's plaintext gRPC address: unix:/abs/path (best in --socket-dir, e.g. unix:<socket-dir>/app.sock: " +
          'no other user can call the app then) or loopback host:port, e.g. 127.0.0.1:50051',
        appArgument,
      )
      .option(
        '--listen <host:port>',
        "the agent's mTLS address, registered as its endpoint (port 0: a free port)",
        listenArgument,
        '127.0.0.1:0',
      )
      .option(
        '--socket-dir <dir>',
        `the directory of the outbound socket (${OUTBOUND_SOCKET}), where the app calls other agents as this agent: ` +
          'made with mode 0700 if missing; an existing one must be yours and closed to group and others (default: ' +
          '$XDG_RUNTIME_DIR/agent-mesh/<name>, without XDG_RUNTIME_DIR ${TMPDIR:-/tmp}/agent-mesh-<uid>/<name>)',
      )
      .option(
        '--outbound-listen <host:port>',
        'serve the outbound port on loopback TCP instead of the socket (needs --allow-tcp-outbound): ANY local ' +
          'process can then act as this agent',
        (value: string) => loopbackArgument(value, 'outbound listen address'),
      )
      .option(
        '--allow-tcp-outbound',
        'allow --outbound-listen, knowing that every local process can call other agents as this agent through it',
      )
      .option('--capability <capability>', 'a capability to register (repeatable)', capabilityArgument, [])
      .option('--label <key=value>', 'a label to register (repeatable)', labelArgument, [])
      .option(
        '--subscribe <pattern[:group]>',
        "subscribe to a topic pattern for the app, in a queue group after ':' (repeatable), e.g. orders.>:mailers; " +
          "each event goes to the app's agentmesh.v1.EventHandler.HandleEvent",
        subscribeArgument,
        [],
      )
      .option(
        '--publish <pattern>',
        'a topic (or pattern) the app publishes to through agentmesh.v1.Events.Publish (repeatable; default: any)',
        publishArgument,
        [],
      )
      .addOption(
        new Option('--health-interval <duration>', "time between checks of the app's grpc.health.v1")
          .argParser(durationArgument)
          .default(1_000, '1s'),
      )
      .addOption(logLevelOption('info')),
  );
  // A sidecar acts as one particular agent: its identity must be named, never the CLI's default one.
  const name = command.options.find((option) => option.long === '--name')!;
  name.defaultValue = undefined;
  name.description =
    'the agent to run as (<name>.crt and <name>.key in --certs, from `agent-mesh ca issue <name>`)';
  name.makeOptionMandatory();
  command.setOptionValueWithSource('name', undefined, 'default'); // commander stored the default when it was added
  return command.action((flags: SidecarFlags) => {
    const misuse = outboundMisuse(flags);
    if (misuse) command.error(`error: ${misuse}`);
    return runSidecar(flags);
  });
}

/** What is wrong with the combination of outbound flags, if anything. */
function outboundMisuse(flags: SidecarFlags): string | undefined {
  if (flags.outboundListen !== undefined && !flags.allowTcpOutbound) {
    return (
      `--outbound-listen ${flags.outboundListen} puts the outbound port on TCP, where any local process can act as ` +
      'this agent: leave it out to use the Unix socket (the default), or add --allow-tcp-outbound'
    );
  }
  if (flags.allowTcpOutbound && flags.outboundListen === undefined) {
    return '--allow-tcp-outbound needs --outbound-listen 127.0.0.1:<port>; leave both out to use the Unix socket';
  }
  if (flags.outboundListen !== undefined && flags.socketDir !== undefined) {
    return '--socket-dir holds the outbound socket, which --outbound-listen replaces: give one of them, not both';
  }
  return undefined;
}

async function runSidecar(flags: SidecarFlags): Promise<void> {
  const logger = createLogger({ level: flags.logLevel });
  const shutdown = listenForShutdown(logger);
  const identity = await connectedIdentity(flags);
  const sidecar = await startSidecar({
    identity,
    controlPlane: flags.controlPlane,
    type: flags.type,
    capabilities: flags.capability,
    labels: Object.fromEntries(flags.label.map((label) => label.split(/=(.*)/s, 2) as [string, string])),
    app: flags.app,
    listen: flags.listen,
    subscriptions: flags.subscribe,
    ...(flags.publish.length > 0 ? { publishes: flags.publish } : {}),
    ...(flags.socketDir !== undefined ? { socketDir: flags.socketDir } : {}),
    ...(flags.outboundListen !== undefined
      ? { outboundListen: flags.outboundListen, allowTcpOutbound: flags.allowTcpOutbound === true }
      : {}),
    healthIntervalMs: flags.healthInterval,
    drainGraceMs: DRAIN_GRACE_MS,
    logger,
  });
  const row = (label: string, text: string) => `  ${label.padEnd(10)}${text}`;
  console.log(
    [
      `agent-mesh sidecar: ${sidecar.agent.name} runs as ${identity.spiffeId.uri} (type ${flags.type}); Ctrl-C stops it`,
      row(
        'mesh',
        `${sidecar.agent.address} (mTLS; inbound calls are checked by the policies, then forwarded)`,
      ),
      row('app', `${sidecar.appAddress} (${sidecar.appServing() ? 'SERVING' : 'NOT_SERVING'})`),
      row(
        'outbound',
        sidecar.socketDir
          ? `${sidecar.outboundAddress} (Unix socket, only this user: calls with metadata ` +
              `${SIDECAR_METADATA.targetType} go out as this agent)`
          : `${sidecar.outboundAddress} (TCP, plaintext: ANY local process can call other agents as this agent)`,
      ),
    ].join('\n'),
  );
  const signal = await shutdown.received;
  logger.info({ signal }, 'stopping: draining the agent');
  try {
    await sidecar.stop(DRAIN_GRACE_MS);
  } catch (error) {
    logger.warn({ err: error }, 'drain failed');
  }
  logger.info('sidecar stopped');
  // Whatever is left (a slow log transport, an app connection in backoff) must not keep a stopped sidecar alive.
  process.exit(0);
}

function typeArgument(value: string): string {
  if (!AGENT_TYPE.test(value)) {
    throw new InvalidArgumentError(
      'an agent type is 1-63 lowercase letters, digits, ".", "_" or "-", e.g. shouter',
    );
  }
  return value;
}

function capabilityArgument(value: string, previous: string[]): string[] {
  if (!CAPABILITY.test(value)) {
    throw new InvalidArgumentError(
      'a capability is 1-128 letters, digits, ".", "_", ":", "/" or "-", e.g. shout',
    );
  }
  return collect(value, previous);
}

function labelArgument(value: string, previous: string[]): string[] {
  const [key = '', labelValue] = value.split(/=(.*)/s, 2);
  if (labelValue === undefined || !validLabelKey(key) || !validLabelValue(labelValue)) {
    throw new InvalidArgumentError('use key=value with Kubernetes label syntax, e.g. zone=eu-1');
  }
  return collect(value, previous);
}

function subscribeArgument(value: string, previous: SidecarSubscription[]): SidecarSubscription[] {
  const separator = value.indexOf(':');
  const pattern = separator < 0 ? value : value.slice(0, separator);
  const group = separator < 0 ? undefined : value.slice(separator + 1);
  // The control plane's own check of a registration's subscriptions, so that a bad flag fails before it starts.
  const listed = [...previous, { pattern, ...(group !== undefined ? { group } : {}) }];
  const valid = validateSubscriptions(
    listed.map((entry) => ({ pattern: entry.pattern, group: entry.group ?? '', maxInFlight: 64 })),
  );
  if (!valid.ok) throw new InvalidArgumentError(`${valid.error.message} (e.g. orders.>:mailers)`);
  return listed;
}

function publishArgument(value: string, previous: string[]): string[] {
  const valid = validatePattern(value);
  if (!valid.ok) throw new InvalidArgumentError(valid.error.message);
  return collect(value, previous);
}

function appArgument(value: string): string {
  try {
    return localAddress(value, 'app address').address;
  } catch (error) {
    throw new InvalidArgumentError((error as MeshError).message);
  }
}

function loopbackArgument(value: string, what: string): string {
  if (value.startsWith('unix:')) {
    throw new InvalidArgumentError(
      `the ${what} is a loopback host:port; the outbound port is a Unix socket by default: ` +
        'set its directory with --socket-dir',
    );
  }
  try {
    return loopbackAddress(value, what);
  } catch (error) {
    throw new InvalidArgumentError((error as MeshError).message);
  }
}
