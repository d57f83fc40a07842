import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';
import { Code, codeName } from '../core/errors.js';

/** Latency buckets in seconds: 0.5 ms to 10 s, for calls between agents on one network and LLM-backed ones. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Most distinct method label values per agent; further methods are counted under `other`. */
const MAX_METHODS = 100;

/**
 * The Prometheus metrics of the agents in one process (prom-client, a registry of its own rather than the global
 * default). Label values are bounded: agent types and method names (at most 100 per agent, then `other`) and gRPC
 * code names; never agent ids, event ids or topics. Share one instance among the agents of a process and serve
 * {@link AgentMetrics.registry} at `/metrics`.
 */
export class AgentMetrics {
  readonly registry: Registry;
  private readonly clientCalls: Counter<'caller_type' | 'callee_type' | 'method' | 'code'>;
  private readonly clientDuration: Histogram<'caller_type' | 'callee_type' | 'method'>;
  private readonly serverCalls: Counter<'caller_type' | 'callee_type' | 'method' | 'code'>;
  private readonly serverDuration: Histogram<'caller_type' | 'callee_type' | 'method'>;
  private readonly retries: Counter<'caller_type' | 'callee_type'>;
  private readonly failovers: Counter<'caller_type' | 'callee_type'>;
  private readonly ejections: Counter<'caller_type' | 'callee_type'>;
  private readonly prioritiesLowered: Counter<'caller_type' | 'callee_type' | 'asked' | 'granted'>;
  private readonly eventsPublished: Counter<'publisher_type'>;
  private readonly eventDeliveries: Counter<'publisher_type' | 'outcome'>;
  private readonly eventsHandled: Counter<'subscriber_type' | 'outcome'>;
  private readonly certificateExpiry: Gauge<'agent'>;
  private readonly expiries = new Map<string, () => number>();
  private readonly tallies = {
    published: new Map<string, Tally>(),
    deliveries: new Map<string, Tally>(),
    handled: new Map<string, Tally>(),
  };

  constructor(options: { registry?: Registry; processMetrics?: boolean } = {}) {
    this.registry = options.registry ?? new Registry();
    if (options.processMetrics ?? true) registerProcessMetrics(this.registry);
    const registers = [this.registry];
    this.clientCalls = new Counter({
      name: 'agentmesh_client_calls_total',
      help: 'Call attempts this process made to other agents, by caller and callee type, method and gRPC code.',
      labelNames: ['caller_type', 'callee_type', 'method', 'code'],
      registers,
    });
    this.clientDuration = new Histogram({
      name: 'agentmesh_client_call_duration_seconds',
      help: 'Duration of call attempts to other agents (for streams: to the end of the stream).',
      labelNames: ['caller_type', 'callee_type', 'method'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.serverCalls = new Counter({
      name: 'agentmesh_server_calls_total',
      help: 'Calls the agents of this process handled, by caller and callee type, method and gRPC code.',
      labelNames: ['caller_type', 'callee_type', 'method', 'code'],
      registers,
    });
    this.serverDuration = new Histogram({
      name: 'agentmesh_server_call_duration_seconds',
      help: 'Time the agents of this process took to handle calls.',
      labelNames: ['caller_type', 'callee_type', 'method'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.retries = new Counter({
      name: 'agentmesh_client_retries_total',
      help: 'Call attempts after the first (each at another instance), by caller and callee type.',
      labelNames: ['caller_type', 'callee_type'],
      registers,
    });
    this.failovers = new Counter({
      name: 'agentmesh_client_failovers_total',
      help: 'Calls that succeeded at another instance after an attempt failed, by caller and callee type.',
      labelNames: ['caller_type', 'callee_type'],
      registers,
    });
    this.ejections = new Counter({
      name: 'agentmesh_client_outlier_ejections_total',
      help: 'Instances ejected from balancing after failing repeatedly, by caller and callee type.',
      labelNames: ['caller_type', 'callee_type'],
      registers,
    });
    // Pub/sub counts are plain numbers on the delivery path, read into the counters when scraped: at tens of
    // thousands of deliveries a second, prom-client's per-increment label hashing would be a cost of its own.
    const tallies = this.tallies;
    this.eventsPublished = new Counter({
      name: 'agentmesh_events_published_total',
      help: 'Events accepted for publishing, by publisher type.',
      labelNames: ['publisher_type'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies.published.values()) this.inc({ publisher_type: t.type }, t.value);
      },
    });
    this.eventDeliveries = new Counter({
      name: 'agentmesh_event_deliveries_total',
      help: 'Event deliveries finished by the publishers of this process: delivered (acknowledged), retried, dead_lettered or refused.',
      labelNames: ['publisher_type', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies.deliveries.values()) {
          this.inc({ publisher_type: t.type, outcome: t.outcome }, t.value);
        }
      },
    });
    this.eventsHandled = new Counter({
      name: 'agentmesh_events_handled_total',
      help: 'Events the subscriptions of this process answered: ack, retry, drop or refused.',
      labelNames: ['subscriber_type', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies.handled.values()) {
          this.inc({ subscriber_type: t.type, outcome: t.outcome }, t.value);
        }
      },
    });
    this.prioritiesLowered = new Counter({
      name: 'agentmesh_priority_lowered_total',
      help: 'Calls that asked for a more urgent priority class than the policies grant their caller, and ran at the granted one.',
      labelNames: ['caller_type', 'callee_type', 'asked', 'granted'],
      registers,
    });
    const expiries = this.expiries;
    this.certificateExpiry = new Gauge({
      name: 'agentmesh_certificate_expiry_timestamp_seconds',
      help: 'When the current certificate of each agent in this process expires (Unix time).',
      labelNames: ['agent'],
      registers,
      collect() {
        this.reset();
        for (const [agent, notAfter] of expiries) this.set({ agent }, Math.floor(notAfter() / 1000));
      },
    });
  }

  /** The instruments of one agent: its type labels what it calls, handles, publishes and receives. */
  forAgent(name: string, type: string, certificateNotAfterMs: () => number): AgentInstruments {
    this.expiries.set(name, certificateNotAfterMs);
    return new AgentInstruments(this, type, () => this.expiries.delete(name));
  }

  /** @internal */
  bind(type: string) {
    return {
      clientCalls: this.clientCalls,
      clientDuration: this.clientDuration,
      serverCalls: this.serverCalls,
      serverDuration: this.serverDuration,
      retries: this.retries,
      failovers: this.failovers,
      ejections: this.ejections,
      prioritiesLowered: this.prioritiesLowered,
      tally: (family: keyof AgentMetrics['tallies'], outcome = ''): Tally => {
        const key = `${type}\0${outcome}`;
        let tally = this.tallies[family].get(key);
        if (!tally) this.tallies[family].set(key, (tally = { type, outcome, value: 0 }));
        return tally;
      },
    };
  }
}

/** A count kept as a plain number and read into its counter when scraped; it only grows. */
interface Tally {
  type: string;
  outcome: string;
  value: number;
}

type Bound = ReturnType<AgentMetrics['bind']>;

interface CallSeries {
  count: Counter.Internal;
  duration: Histogram.Internal<string>;
}

/**
 * One agent's view of the process's metrics. Labelled series are looked up once per (type, method, code) and kept,
 * so a call costs two map lookups and two increments.
 */
export class AgentInstruments {
  private readonly bound: Bound;
  private readonly client = new Map<string, CallSeries>();
  private readonly server = new Map<string, CallSeries>();
  private readonly clientMethods = new Set<string>();
  private readonly published: Tally;
  private readonly deliveries = new Map<string, Tally>();
  private readonly handled = new Map<string, Tally>();
  private readonly serverMethods = new Set<string>();

  constructor(
    metrics: AgentMetrics,
    readonly type: string,
    private readonly forget: () => void,
  ) {
    this.bound = metrics.bind(type);
    this.published = this.bound.tally('published');
  }

  /** One attempt of a call this agent made finished with `code` after `ms`. */
  clientAttempt(calleeType: string, method: string, code: number, ms: number): void {
    const series = this.series(
      this.client,
      this.clientMethods,
      calleeType,
      method,
      code,
      (labels) => this.bound.clientCalls.labels(labels),
      (labels) => this.bound.clientDuration.labels(labels),
      'callee',
    );
    series.count.inc();
    series.duration.observe(ms / 1000);
  }

  /** A call this agent made failed UNAVAILABLE before any attempt: no instance to send it to (counted, not timed). */
  clientUnrouted(calleeType: string, method: string): void {
    this.series(
      this.client,
      this.clientMethods,
      calleeType,
      method,
      Code.UNAVAILABLE,
      (labels) => this.bound.clientCalls.labels(labels),
      (labels) => this.bound.clientDuration.labels(labels),
      'callee',
    ).count.inc();
  }

  /** This agent handled a call from an agent of `callerType` ('unknown' when not registered). */
  serverCall(callerType: string, method: string, code: number, ms: number): void {
    const series = this.series(
      this.server,
      this.serverMethods,
      callerType,
      method,
      code,
      (labels) => this.bound.serverCalls.labels(labels),
      (labels) => this.bound.serverDuration.labels(labels),
      'caller',
    );
    series.count.inc();
    series.duration.observe(ms / 1000);
  }

  retry(calleeType: string): void {
    this.bound.retries.labels(this.type, calleeType).inc();
  }

  failover(calleeType: string): void {
    this.bound.failovers.labels(this.type, calleeType).inc();
  }

  ejection(calleeType: string): void {
    this.bound.ejections.labels(this.type, calleeType).inc();
  }

  /** A call from an agent of `callerType` asked for priority `asked`, more than its grant: it ran at `granted`. */
  priorityLowered(callerType: string, asked: string, granted: string): void {
    this.bound.prioritiesLowered.labels(callerType, this.type, asked, granted).inc();
  }

  eventPublished(): void {
    this.published.value += 1;
  }

  eventDelivery(outcome: 'delivered' | 'retried' | 'dead_lettered' | 'refused'): void {
    let tally = this.deliveries.get(outcome);
    if (!tally) this.deliveries.set(outcome, (tally = this.bound.tally('deliveries', outcome)));
    tally.value += 1;
  }

  eventHandled(outcome: 'ack' | 'retry' | 'drop' | 'refused'): void {
    let tally = this.handled.get(outcome);
    if (!tally) this.handled.set(outcome, (tally = this.bound.tally('handled', outcome)));
    tally.value += 1;
  }

  /** The agent stopped: its certificate is no longer reported. */
  close(): void {
    this.forget();
  }

  private series(
    cache: Map<string, CallSeries>,
    methods: Set<string>,
    otherType: string,
    method: string,
    code: number,
    count: (labels: Record<string, string>) => Counter.Internal,
    duration: (labels: Record<string, string>) => Histogram.Internal<string>,
    other: 'caller' | 'callee',
  ): CallSeries {
    if (!methods.has(method)) {
      if (methods.size >= MAX_METHODS) method = 'other';
      else methods.add(method);
    }
    const key = `${otherType}\0${method}\0${code}`;
    let series = cache.get(key);
    if (series) return series;
    const types =
      other === 'callee'
        ? { caller_type: this.type, callee_type: otherType }
        : { caller_type: otherType, callee_type: this.type };
    series = {
      count: count({ ...types, method, code: codeName(code) }),
      duration: duration({ ...types, method }),
    };
    cache.set(key, series);
    return series;
  }
}
