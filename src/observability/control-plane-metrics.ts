import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';
import type { AgentRecord, Health } from '../core/agent-record.js';
import { codeName } from '../core/errors.js';

/** Where {@link ControlPlaneMetrics} reads the values it computes at scrape time. */
export interface ControlPlaneMetricsOptions {
  /** The agents this replica knows. */
  agents: () => Iterable<AgentRecord>;
  /** When the control plane's own certificate expires (ms since the epoch). */
  certificateExpiresAt: () => number;
  /** When the signing CA's certificate expires (ms since the epoch). */
  caExpiresAt: () => number;
  /** Whether this replica runs the active health checks. */
  healthCheckLeader: () => boolean;
  /** Include the Node.js process metrics (`process_*`, `nodejs_*`); default true. */
  processMetrics?: boolean;
}

const HEALTH_STATES: readonly Health[] = ['healthy', 'unhealthy', 'draining'];

/**
 * The control plane's Prometheus metrics, in a registry of its own (never prom-client's global one): registry size
 * by type and health, watch clients, registrations, heartbeats, certificates, RPCs by method and code, and the
 * expiry of its certificate and of the CA. Labels are bounded: agent types, health states, method and code names;
 * never agent ids.
 */
export class ControlPlaneMetrics {
  /** Every metric of this control plane, with the process metrics unless turned off. */
  readonly registry = new Registry();
  private readonly rpcs: Counter<'method' | 'code'>;
  private readonly rpcDuration: Histogram<'method'>;
  private readonly watchClients: Gauge;
  private readonly heartbeats: Counter;
  private readonly registrations: Counter;
  private readonly deregistrations: Counter;
  private readonly certificates: Counter<'kind'>;
  private readonly unentitled: Counter<'type' | 'mode'>;
  private readonly unentitledTypes = new Set<string>();
  private readonly callReports: Counter<'result'>;

  constructor(options: ControlPlaneMetricsOptions) {
    const registers = [this.registry];
    new Gauge({
      name: 'agentmesh_control_plane_agents',
      help: 'Registered agents known to this replica, by type and health.',
      labelNames: ['type', 'health'] as const,
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, Map<Health, number>>();
        for (const agent of options.agents()) {
          let byHealth = counts.get(agent.spec.type);
          if (!byHealth) {
            byHealth = new Map(HEALTH_STATES.map((health) => [health, 0]));
            counts.set(agent.spec.type, byHealth);
          }
          byHealth.set(agent.health, (byHealth.get(agent.health) ?? 0) + 1);
        }
        for (const [type, byHealth] of counts) {
          for (const [health, count] of byHealth) this.set({ type, health }, count);
        }
      },
    });
    this.watchClients = new Gauge({
      name: 'agentmesh_control_plane_watch_clients',
      help: 'Watch streams open on this replica.',
      registers,
    });
    this.heartbeats = new Counter({
      name: 'agentmesh_control_plane_heartbeats_total',
      help: 'Heartbeats accepted by this replica.',
      registers,
    });
    this.registrations = new Counter({
      name: 'agentmesh_control_plane_registrations_total',
      help: 'Registrations accepted by this replica (re-registrations included).',
      registers,
    });
    this.deregistrations = new Counter({
      name: 'agentmesh_control_plane_deregistrations_total',
      help: 'Deregistrations accepted by this replica.',
      registers,
    });
    this.unentitled = new Counter({
      name: 'agentmesh_control_plane_unentitled_registrations_total',
      help: 'Registrations as an agent type the identity is not entitled to: refused (enforce) or let through (audit).',
      labelNames: ['type', 'mode'] as const,
      registers,
    });
    this.certificates = new Counter({
      name: 'agentmesh_control_plane_certificates_issued_total',
      help: 'Certificates signed by this replica: join (with a token), renewal (an agent renewing), self (its own).',
      labelNames: ['kind'] as const,
      registers,
    });
    this.callReports = new Counter({
      name: 'agentmesh_control_plane_call_reports_total',
      help: 'Call reports received with heartbeats: accepted into the call graph, or rejected as malformed.',
      labelNames: ['result'] as const,
      registers,
    });
    new Gauge({
      name: 'agentmesh_control_plane_certificate_expiry_timestamp_seconds',
      help: "When the control plane's own certificate expires (Unix time).",
      registers,
      collect() {
        this.set(options.certificateExpiresAt() / 1_000);
      },
    });
    new Gauge({
      name: 'agentmesh_control_plane_ca_expiry_timestamp_seconds',
      help: "When the signing CA's certificate expires (Unix time).",
      registers,
      collect() {
        this.set(options.caExpiresAt() / 1_000);
      },
    });
    new Gauge({
      name: 'agentmesh_control_plane_health_check_leader',
      help: 'Whether this replica runs the active health checks (1) or not (0).',
      registers,
      collect() {
        this.set(options.healthCheckLeader() ? 1 : 0);
      },
    });
    this.rpcs = new Counter({
      name: 'agentmesh_control_plane_rpcs_total',
      help: 'ControlPlane RPCs handled, by method and status code (watch streams count when they end).',
      labelNames: ['method', 'code'] as const,
      registers,
    });
    this.rpcDuration = new Histogram({
      name: 'agentmesh_control_plane_rpc_duration_seconds',
      help: 'Time to handle a unary ControlPlane RPC, by method.',
      labelNames: ['method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    // Zero series for what is expected, so that rate() works from the first scrape.
    for (const kind of ['join', 'renewal', 'self']) this.certificates.inc({ kind }, 0);
    for (const result of ['accepted', 'rejected']) this.callReports.inc({ result }, 0);
    if (options.processMetrics !== false) registerProcessMetrics(this.registry);
  }

  /** A unary RPC finished (`seconds` after it started), or a watch stream ended (`seconds` undefined). */
  rpcFinished(method: string, code: number, seconds?: number): void {
    this.rpcs.inc({ method, code: codeName(code) });
    if (seconds !== undefined) this.rpcDuration.observe({ method }, seconds);
  }

  watchOpened(): void {
    this.watchClients.inc();
  }

  watchClosed(): void {
    this.watchClients.dec();
  }

  heartbeat(): void {
    this.heartbeats.inc();
  }

  registered(): void {
    this.registrations.inc();
  }

  deregistered(): void {
    this.deregistrations.inc();
  }

  /** A registration as `type`, which the identity is not entitled to: refused (`enforce`) or let through (`audit`). */
  unentitledRegistration(type: string, mode: 'enforce' | 'audit'): void {
    // The type is the caller's claim: beyond 100 distinct ones, they are counted as `other`.
    if (!this.unentitledTypes.has(type)) {
      if (this.unentitledTypes.size >= 100) type = 'other';
      else this.unentitledTypes.add(type);
    }
    this.unentitled.inc({ type, mode });
  }

  certificateIssued(kind: 'join' | 'renewal' | 'self'): void {
    this.certificates.inc({ kind });
  }

  callReportsReceived(accepted: number, rejected: number): void {
    if (accepted > 0) this.callReports.inc({ result: 'accepted' }, accepted);
    if (rejected > 0) this.callReports.inc({ result: 'rejected' }, rejected);
  }
}
