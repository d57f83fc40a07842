import { EventStore, type EventStoreOptions } from './event-store.js';
import { readNatsAuthority } from '../nats/nats-accounts.js';
import { X509Certificate } from 'node:crypto';
import { Code, MeshError } from '../core/errors.js';
import type { CertificateAuthority } from '../identity/certificate-authority.js';
import { loadCaDir, loadIdentity, loadTrustBundle } from '../identity/certs-dir.js';
import { CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import type { TrustBundle } from '../identity/trust-bundle.js';
import type { Registry as MetricsRegistry } from 'prom-client';
import { createDashboardRoutes, type Dashboard } from './dashboard/dashboard-routes.js';
import { ControlPlaneMetrics } from '../observability/control-plane-metrics.js';
import {
  metricsRoute,
  parseListenAddress,
  startHttpServer,
  type RunningHttpServer,
} from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { GrpcHealthProbe } from '../transport/health-probe.js';
import { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { startServer, type RunningServer } from '../transport/server.js';
import { HealthChecker, type HealthCheckSettings } from './health-checker.js';
import { DEFAULT_LEASES, Registrar, type LeaseSettings, type TypeEntitlements } from './registrar.js';
import type { RequestLimitSettings } from './request-limits.js';
import { OperationsView } from './operations-view.js';
import { ownCertificateFields, resignOwnCertificate } from './own-certificate.js';
import { SIGN_CERTIFICATE_METHOD, createControlPlaneService } from './service.js';
import type { ControlPlaneServiceObserver } from './service-observer.js';
import { ControlPlaneState } from './state.js';
import type { Store } from './store.js';

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** The certificate directory: the CA (`ca.crt`, `ca.key`, `bundle.crt`) and `control-plane.crt`/`.key`. */
  certsDir: string;
  /** `host:port` to listen on (default `127.0.0.1:7400`; port 0 picks a free one). */
  listen?: string;
  store: Store;
  logger: Logger;
  leases?: Partial<LeaseSettings>;
  healthChecks?: Partial<HealthCheckSettings> | false;
  /** SPIFFE IDs allowed to change policies, besides the control plane's own. */
  admins?: readonly string[];
  maxCertificateTtlMs?: number;
  watchProgressMs?: number;
  /** Changes kept for watchers that resume (default 10,000, and at most 32 MiB of them). */
  historySize?: number;
  /**
   * On a store that does not outlive the control plane (the in-memory one), how long after the start its snapshots
   * say they may be incomplete, while the agents that were registered before a restart register again (default:
   * the default lease, 15 s; agents find a lost registration within seconds). Watchers keep what they knew
   * meanwhile, and get a complete snapshot when the time is up.
   */
  settleMs?: number;
  /**
   * Per-identity rate limits of Register, Heartbeat and certificate renewal (default: 2/s and 5/s, bursts of 20;
   * renewals 1/s, bursts of 10).
   */
  requestLimits?: Partial<RequestLimitSettings>;
  /** Most watch streams one identity may hold open at once (default 16). */
  watchesPerIdentity?: number;
  /**
   * `host:port` of the operator HTTP endpoint: the dashboard (`/`), its JSON API and live updates (`/api/...`) and
   * the Prometheus metrics (`/metrics`). Off unless given; it has no authentication, so bind it to loopback or put
   * it behind something that has. Port 0 picks a free one.
   */
  httpListen?: string;
  /**
   * `enforce` (the default): an identity registers only as an agent type its certificate or the policies' grants
   * entitle it to. `audit`: any type, with a warning and a metric, for a mesh moving to entitlements.
   */
  typeEntitlements?: TypeEntitlements;
  /** Dashboard settings: how often live views get fresh call rates (default 2 s). */
  dashboard?: { refreshMs?: number };
  /**
   * Durable events on NATS JetStream: the servers (`nats://host:port`) and the stream's settings. The control
   * plane signs agents' NATS credentials with the authority in `<certsDir>/nats/` (`agent-mesh ca nats`) and
   * tells every agent, so agents need no configuration of their own. Without it, events are brokerless.
   */
  events?: Omit<EventStoreOptions, 'authority' | 'identity' | 'logger' | 'clock'>;
}

/** A running control plane. */
export interface RunningControlPlane {
  /** `host:port` it serves on. */
  address: string;
  identity: MeshIdentity;
  state: ControlPlaneState;
  /** `http://host:port` of the dashboard and `/metrics`, when `httpListen` was given. */
  httpUrl?: string;
  /** This control plane's Prometheus metrics (served at `/metrics` with `httpListen`). */
  metrics: MetricsRegistry;
  /** The operator's view: agents by type, who calls whom, recent activity. */
  operations: OperationsView;
  /** The event store, when events are durable (`events`). */
  eventStore?: EventStore;
  /** Re-reads the CA and trust bundle from the certificate directory (after `agent-mesh ca rotate`). */
  reloadCa(): Promise<void>;
  /** Stops serving (in-flight calls get `graceMs`), stops health checks, and closes the store. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_LISTEN = '127.0.0.1:7400';

/** `2026-11-25 05:18 UTC`: minutes are enough for a certificate's end in the activity log. */
function shortTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

async function loadAuthority(
  certsDir: string,
): Promise<{ authority: CertificateAuthority; bundle: TrustBundle }> {
  const authority = await loadCaDir(certsDir); // first, so a missing CA is what the error names
  const bundle = await loadTrustBundle(certsDir);
  return { authority, bundle };
}

/**
 * Starts a control plane: loads its identity and the CA from the certificate directory, follows the store, and
 * serves `agentmesh.v1.ControlPlane` over mTLS (SignCertificate also to agents joining with a token). Only the
 * replica elected leader in the store runs active health checks.
 * @throws MeshError NOT_FOUND when the control plane's certificate or the CA is missing, naming the command to fix it.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const logger = options.logger.child({ component: 'control-plane' });
  if (options.httpListen !== undefined) {
    // Checked first, so that a typo fails the start before anything is bound.
    const parsed = parseListenAddress(options.httpListen);
    if (!parsed.ok) throw parsed.error;
  }
  const startedAt = Date.now();
  let material;
  try {
    material = await loadIdentity(options.certsDir, CONTROL_PLANE_NAME);
  } catch (error) {
    if (error instanceof MeshError && error.code === Code.NOT_FOUND) {
      throw new MeshError(
        Code.NOT_FOUND,
        `the control plane's identity is missing: ${error.message} (or run \`agent-mesh up\` for a development mesh)`,
        { cause: error },
      );
    }
    throw error;
  }
  const identity = new MeshIdentity(material);
  let authority = await loadAuthority(options.certsDir);
  const listen = options.listen ?? DEFAULT_LISTEN;
  // Clients that check host names instead of SPIFFE IDs (grpcio: examples/python/direct_agent.py) need the address
  // they dial as a SAN. The certificate carries its listen host from the start, without a restart after
  // `agent-mesh ca issue control-plane --ip ...`, and every renewal keeps it and whatever SANs the operator issued.
  const own = ownCertificateFields(material.certificatePem, listen);
  if (own.missing) {
    const signed = resignOwnCertificate(
      authority.authority,
      identity.spiffeId,
      material,
      identity.expiresAt,
      own.fields,
    );
    if (signed) {
      identity.update({
        ...material,
        certificatePem: signed.certificatePem,
        trustBundlePem: authority.bundle.pem,
      });
      logger.info(
        { dnsNames: own.fields.dnsNames, ipAddresses: own.fields.ipAddresses },
        'control plane certificate signed again with the SANs of its listen address',
      );
    }
  }

  const state = new ControlPlaneState({
    store: options.store,
    logger,
    ...(options.historySize ? { historySize: options.historySize } : {}),
  });
  await state.start();
  if (!options.store.durable) {
    state.settleFor(options.settleMs ?? options.leases?.defaultTtlMs ?? DEFAULT_LEASES.defaultTtlMs);
  }
  const view = new OperationsView({ state, logger });
  let checker: HealthChecker | undefined;
  const meter = new ControlPlaneMetrics({
    agents: () => state.registry.all(),
    certificateExpiresAt: () => identity.expiresAt,
    caExpiresAt: () => authority.authority.notAfter.getTime(),
    healthCheckLeader: () => checker !== undefined,
  });
  // The control plane holds the CA, so it renews its own identity in-process: at half its remaining lifetime, and
  // whenever the signing root changes (a rotation), so that it never serves with an expired or soon-untrusted
  // certificate. The files on disk only bootstrap it.
  let ownRenewal: NodeJS.Timeout | undefined;
  const renewOwnIdentity = async () => {
    const issued = await authority.authority.issue(CONTROL_PLANE_NAME, own.fields);
    identity.update({
      certificatePem: issued.certificatePem,
      privateKeyPem: issued.privateKeyPem,
      trustBundlePem: authority.bundle.pem,
    });
    logger.info({ expiresAt: issued.notAfter.toISOString() }, 'control plane identity renewed');
    meter.certificateIssued('self');
    view.note({
      kind: 'certificate',
      severity: 'info',
      message: `the control plane renewed its certificate, valid until ${shortTime(issued.notAfter.getTime())}`,
    });
  };
  const scheduleOwnRenewal = () => {
    clearTimeout(ownRenewal);
    const delay = Math.min(2 ** 31 - 1, Math.max(1_000, (identity.expiresAt - Date.now()) / 2));
    ownRenewal = setTimeout(() => {
      renewOwnIdentity().then(scheduleOwnRenewal, (error: unknown) => {
        logger.error({ err: error }, 'cannot renew the control plane identity; retrying in 10s');
        ownRenewal = setTimeout(scheduleOwnRenewal, 10_000);
        ownRenewal.unref();
      });
    }, delay);
    ownRenewal.unref();
  };
  scheduleOwnRenewal();

  const observer: ControlPlaneServiceObserver = {
    rpcFinished: (method, code, seconds) => meter.rpcFinished(method, code, seconds),
    watchOpened: () => meter.watchOpened(),
    watchClosed: () => meter.watchClosed(),
    registered: (record, certificateExpiresAt) => {
      meter.registered();
      view.certificateSeen(record.id, certificateExpiresAt);
    },
    heartbeat: (record, calls, certificateExpiresAt) => {
      meter.heartbeat();
      view.certificateSeen(record.id, certificateExpiresAt);
      if (calls.length > 0) {
        const outcome = view.callsReported(record, calls);
        meter.callReportsReceived(outcome.accepted.length, outcome.rejected);
      }
    },
    deregistered: () => meter.deregistered(),
    certificateSigned: (signed) => {
      meter.certificateIssued(signed.join ? 'join' : 'renewal');
      view.certificateSeen(signed.name, signed.expiresAt);
      view.note({
        kind: 'certificate',
        severity: 'info',
        message: signed.join
          ? `${signed.name} joined with a token: certificate issued, valid until ${shortTime(signed.expiresAt)}`
          : `${signed.name} renewed its certificate, valid until ${shortTime(signed.expiresAt)}`,
        agentId: signed.name,
        key: `certificate\n${signed.name}`,
      });
    },
  };
  const registrar = new Registrar({
    store: options.store,
    state,
    logger,
    ...(options.leases ? { leases: options.leases } : {}),
    typeEntitlements: options.typeEntitlements ?? 'enforce',
    onUnentitled: (_caller, type) =>
      meter.unentitledRegistration(type, options.typeEntitlements ?? 'enforce'),
  });
  const eventStore = options.events
    ? new EventStore({
        ...options.events,
        authority: await readNatsAuthority(options.certsDir),
        identity,
        logger,
      })
    : undefined;
  const service = createControlPlaneService({
    ...(eventStore ? { eventStore } : {}),
    identity,
    state,
    registrar,
    ca: () => authority,
    logger,
    ...(options.admins ? { admins: options.admins } : {}),
    ...(options.maxCertificateTtlMs ? { maxCertificateTtlMs: options.maxCertificateTtlMs } : {}),
    ...(options.watchProgressMs ? { watchProgressMs: options.watchProgressMs } : {}),
    ...(options.requestLimits ? { requestLimits: options.requestLimits } : {}),
    ...(options.watchesPerIdentity ? { watchesPerIdentity: options.watchesPerIdentity } : {}),
    observer,
    store: {
      kind: options.store.kind,
      durable: options.store.durable,
      probe: async () => void (await options.store.get('agentmesh/info-probe')),
    },
  });

  let server: RunningServer;
  try {
    server = await startServer({
      identity,
      address: listen,
      services: [service],
      reflection: [loadMeshProtos().packageDefinition],
      credentials: { anonymousMethods: [SIGN_CERTIFICATE_METHOD] },
    });
  } catch (error) {
    clearTimeout(ownRenewal);
    view.stop();
    await eventStore?.close();
    await state.stop();
    throw error;
  }

  let dashboard: Dashboard | undefined;
  let http: RunningHttpServer | undefined;
  if (options.httpListen !== undefined) {
    try {
      dashboard = await createDashboardRoutes({
        view,
        logger,
        info: () => ({
          address: server.address,
          spiffeId: identity.spiffeId.uri,
          trustDomain: identity.spiffeId.trustDomain,
          store: options.store.kind,
          startedAt,
          certificateExpiresAt: identity.expiresAt,
          healthCheckLeader: checker !== undefined,
        }),
        ...(options.dashboard?.refreshMs ? { refreshMs: options.dashboard.refreshMs } : {}),
        ...(eventStore ? { events: () => eventStore.describe(state.registry.all()) } : {}),
      });
      http = await startHttpServer({
        listen: options.httpListen,
        routes: { ...dashboard.routes, '/metrics': metricsRoute(meter.registry) },
        logger,
      });
    } catch (error) {
      clearTimeout(ownRenewal);
      dashboard?.close();
      await server.shutdown(0);
      view.stop();
      await eventStore?.close();
      await state.stop();
      throw error;
    }
  }

  const probe = new GrpcHealthProbe(identity);
  let leaveElection: (() => Promise<void>) | undefined;
  if (options.healthChecks !== false) {
    const settings = options.healthChecks ?? {};
    leaveElection = await options.store.campaign('agentmesh/health-checker', (leader) => {
      if (leader && !checker) {
        checker = new HealthChecker({
          registry: state.registry,
          probe: (agent, timeoutMs) =>
            probe.check({ id: agent.id, endpoint: agent.spec.endpoint, spiffeId: agent.spiffeId }, timeoutMs),
          setHealth: (id, health) => registrar.setHealth(id, health),
          retain: (ids) => probe.retain(ids),
          settings,
          logger,
        });
        checker.start();
        logger.info('leading active health checks');
      } else if (!leader && checker) {
        checker.stop();
        checker = undefined;
        probe.reset();
      }
    });
  }
  logger.info(
    {
      address: server.address,
      store: options.store.kind,
      spiffeId: identity.spiffeId.uri,
      ...(http ? { dashboard: http.url } : {}),
    },
    'control plane serving',
  );

  return {
    address: server.address,
    identity,
    state,
    ...(http ? { httpUrl: http.url } : {}),
    metrics: meter.registry,
    operations: view,
    ...(eventStore ? { eventStore } : {}),
    async reloadCa() {
      const next = await loadAuthority(options.certsDir);
      const current = next.bundle.verify(identity.current.certificatePem);
      const signingRoot = new X509Certificate(next.authority.certificatePem);
      authority = next;
      if (current.ok && current.value.facts.x509.checkIssued(signingRoot)) {
        identity.update({ ...identity.current, trustBundlePem: next.bundle.pem });
      } else {
        // Our certificate is from a root that no longer signs (or is no longer trusted): take one from the new root.
        await renewOwnIdentity();
      }
      scheduleOwnRenewal();
      logger.info({ roots: next.bundle.roots.length }, 'CA and trust bundle reloaded');
    },
    async close(graceMs = 2_000) {
      clearTimeout(ownRenewal);
      dashboard?.close();
      await http?.close();
      checker?.stop();
      await leaveElection?.();
      probe.close();
      await server.shutdown(graceMs);
      registrar.close();
      view.stop();
      await eventStore?.close();
      await state.stop();
      await options.store.close();
    },
  };
}
