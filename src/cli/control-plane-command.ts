import { Command, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { startControlPlane } from '../control-plane/control-plane.js';
import { createStore } from '../control-plane/stores/create-store.js';
import { parseSpiffeId } from '../core/spiffe-id.js';
import { createLogger } from '../observability/logger.js';
import {
  collect,
  durationArgument,
  httpListenArgument,
  listenArgument,
  logLevelOption,
  natsUrlsArgument,
} from './run.js';

interface ControlPlaneFlags {
  listen: string;
  httpListen?: string;
  certs: string;
  store: 'memory' | 'etcd';
  etcdEndpoints: string;
  admin: string[];
  typeEntitlements: 'enforce' | 'audit';
  leaseTtl?: number;
  healthInterval?: number;
  healthTimeout?: number;
  events?: string[];
  eventReplicas?: number;
  eventCredentialTtl?: number;
  logLevel: LevelWithSilent;
}

/** `agent-mesh control-plane`: serve the registry, discovery, watch, policies and the online CA. */
export function createControlPlaneCommand(): Command {
  return new Command('control-plane')
    .description(
      'run the control plane: registry, health, discovery, watch, policies and the online CA, over mTLS',
    )
    .addOption(
      new Option('--listen <host:port>', 'address to serve on')
        .default('127.0.0.1:7400')
        .env('AGENT_MESH_LISTEN')
        .argParser(listenArgument),
    )
    .addOption(
      new Option(
        '--http-listen <host:port>',
        'serve the dashboard and Prometheus /metrics over HTTP here (no authentication: keep it on loopback)',
      )
        .env('AGENT_MESH_HTTP_LISTEN')
        .argParser(httpListenArgument),
    )
    .addOption(
      new Option('--certs <dir>', 'certificate directory with the CA and control-plane.crt/.key')
        .default('certs')
        .env('AGENT_MESH_CERTS'),
    )
    .addOption(
      new Option('--store <kind>', 'where the registry lives')
        .choices(['memory', 'etcd'])
        .default('memory')
        .env('AGENT_MESH_STORE'),
    )
    .addOption(
      new Option('--etcd-endpoints <urls>', 'comma-separated etcd client URLs, for --store etcd')
        .default('http://127.0.0.1:2379')
        .env('AGENT_MESH_ETCD_ENDPOINTS'),
    )
    .option(
      '--admin <spiffe-id>',
      'an identity allowed to change policies (repeatable)',
      (value: string, previous: string[]) => collect(spiffeIdArgument(value), previous),
      [],
    )
    .addOption(
      new Option(
        '--type-entitlements <mode>',
        'enforce: an identity registers only as a type its certificate or a policy grant entitles it to; ' +
          'audit: any type, logged and counted (while a mesh moves to entitlements)',
      )
        .choices(['enforce', 'audit'])
        .default('enforce')
        .env('AGENT_MESH_TYPE_ENTITLEMENTS'),
    )
    .option(
      '--lease-ttl <duration>',
      'default registration lease when an agent asks for none (default 15s)',
      durationArgument,
    )
    .option(
      '--health-interval <duration>',
      'time between active health checks of one agent (default 5s)',
      durationArgument,
    )
    .option(
      '--health-timeout <duration>',
      'a health check not answered by then fails (default 2s)',
      durationArgument,
    )
    .addOption(
      new Option(
        '--events <urls>',
        'keep events durable on NATS JetStream at these comma-separated URLs (nats://host:port); agents are told. ' +
          'NATS must trust the mesh: `agent-mesh ca nats` writes its configuration. Default: brokerless events',
      )
        .env('AGENT_MESH_EVENTS')
        .argParser(natsUrlsArgument),
    )
    .option(
      '--event-credential-ttl <duration>',
      "lifetime of the agents' NATS credentials, renewed at two thirds of it (default 1h; at least 5s)",
      credentialTtlArgument,
    )
    .option(
      '--event-replicas <n>',
      'replicas of the event stream (default: the number of --events URLs, at most 3)',
      replicasArgument,
    )
    .addOption(logLevelOption('info'))
    .action(async (flags: ControlPlaneFlags) => {
      const logger = createLogger({ level: flags.logLevel });
      const store = await createStore({
        kind: flags.store,
        etcdEndpoints: flags.etcdEndpoints.split(','),
        logger,
      });
      const controlPlane = await startControlPlane({
        certsDir: flags.certs,
        listen: flags.listen,
        ...(flags.httpListen !== undefined ? { httpListen: flags.httpListen } : {}),
        store,
        logger,
        admins: flags.admin,
        typeEntitlements: flags.typeEntitlements,
        ...(flags.leaseTtl ? { leases: { defaultTtlMs: flags.leaseTtl } } : {}),
        healthChecks: {
          ...(flags.healthInterval ? { intervalMs: flags.healthInterval } : {}),
          ...(flags.healthTimeout ? { timeoutMs: flags.healthTimeout } : {}),
        },
        ...(flags.events
          ? {
              events: {
                servers: flags.events,
                ...(flags.eventReplicas ? { replicas: flags.eventReplicas } : {}),
                ...(flags.eventCredentialTtl ? { credentialTtlMs: flags.eventCredentialTtl } : {}),
              },
            }
          : {}),
      }).catch(async (error: unknown) => {
        await store.close();
        throw error;
      });
      console.log(
        `control plane serving on ${controlPlane.address} (${flags.store} store, ${flags.events ? `events on NATS JetStream at ${flags.events.join(',')}` : 'brokerless events'}); Ctrl-C stops it, SIGHUP reloads the CA`,
      );
      if (controlPlane.httpUrl) {
        console.log(`dashboard at ${controlPlane.httpUrl}/, metrics at ${controlPlane.httpUrl}/metrics`);
      }
      const reload = () => {
        controlPlane
          .reloadCa()
          .catch((error: unknown) =>
            logger.error({ err: error }, 'CA reload failed; the previous CA stays in force'),
          );
      };
      process.on('SIGHUP', reload);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.off('SIGHUP', reload);
      await controlPlane.close();
    });
}

function credentialTtlArgument(value: string): number {
  const ms = durationArgument(value);
  if (ms < 5_000) throw new InvalidArgumentError('must be at least 5s: agents renew at two thirds of it');
  return ms;
}

function replicasArgument(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5)
    throw new InvalidArgumentError('must be 1 to 5 (NATS allows 5)');
  return n;
}

function spiffeIdArgument(value: string): string {
  const parsed = parseSpiffeId(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error.message);
  return value;
}
