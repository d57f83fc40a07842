import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';
import { Code } from '../core/errors.js';
import { CallTallies, type CallLabels, type CallSeries } from './call-tallies.js';

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
  /** Call attempts made and calls served, as plain numbers read when scraped (see {@link CallTallies}). */
  private readonly calls = {
    client: new CallTallies(DURATION_BUCKETS),
    server: new CallTallies(DURATION_BUCKETS),
  };
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
    this.calls.client.counter({
      name: 'agentmesh_client_calls_total',
      help: 'Call attempts this process made to other agents, by caller and callee type, method and gRPC code.',
      labelNames: ['caller_type', 'callee_type', 'method', 'code'],
      registers,
    });
    this.calls.client.histogram({
      name: 'agentmesh_client_call_duration_seconds',
      help: 'Duration of call attempts to other agents (for streams: to the end of the stream).',
      labelNames: ['caller_type', 'callee_type', 'method'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.calls.server.counter({
      name: 'agentmesh_server_calls_total',
      help: 'Calls the agents of this process handled, by caller and callee type, method and gRPC code.',
      labelNames: ['caller_type', 'callee_type', 'method', 'code'],
      registers,
    });
    this.calls.server.histogram({
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
      calls: this.calls,
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

/**
 * One agent's view of the process's metrics. Call series are found by the other agent's type and the method (two
 * map lookups) and counted as plain numbers: a call costs no label hashing.
 */
export class AgentInstruments {
  private readonly bound: Bound;
  private readonly client: CallSeriesIndex;
  private readonly server: CallSeriesIndex;
  private readonly published: Tally;
  private readonly deliveries = new Map<string, Tally>();
  private readonly handled = new Map<string, Tally>();

  constructor(
    metrics: AgentMetrics,
    readonly type: string,
    private readonly forget: () => void,
  ) {
    this.bound = metrics.bind(type);
    this.published = this.bound.tally('published');
    this.client = new CallSeriesIndex(this.bound.calls.client, (callee, method) => ({
      caller_type: type,
      callee_type: callee,
      method,
    }));
    this.server = new CallSeriesIndex(this.bound.calls.server, (caller, method) => ({
      caller_type: caller,
      callee_type: type,
      method,
    }));
  }

  /** One attempt of a call this agent made finished with `code` after `ms`. */
  clientAttempt(calleeType: string, method: string, code: number, ms: number): void {
    this.client.of(calleeType, method).record(code, ms);
  }

  /** A call this agent made failed UNAVAILABLE before any attempt: no instance to send it to (counted, not timed). */
  clientUnrouted(calleeType: string, method: string): void {
    this.client.of(calleeType, method).count(Code.UNAVAILABLE);
  }

  /** This agent handled a call from an agent of `callerType` ('unknown' when not registered). */
  serverCall(callerType: string, method: string, code: number, ms: number): void {
    this.server.of(callerType, method).record(code, ms);
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
}

/**
 * An agent's call series of one family by the other agent's type and the method. Method label values are bounded:
 * at most {@link MAX_METHODS} per agent and family, then `other`.
 */
class CallSeriesIndex {
  private readonly byType = new Map<string, Map<string, CallSeries>>();
  private readonly methods = new Set<string>();

  constructor(
    private readonly tallies: CallTallies,
    private readonly labels: (otherType: string, method: string) => CallLabels,
  ) {}

  of(otherType: string, method: string): CallSeries {
    let byMethod = this.byType.get(otherType);
    if (!byMethod) this.byType.set(otherType, (byMethod = new Map()));
    let series = byMethod.get(method);
    if (series) return series;
    if (!this.methods.has(method)) {
      if (this.methods.size >= MAX_METHODS) {
        series = byMethod.get('other');
        if (!series) byMethod.set('other', (series = this.tallies.series(this.labels(otherType, 'other'))));
        return series;
      }
      this.methods.add(method);
    }
    series = this.tallies.series(this.labels(otherType, method));
    byMethod.set(method, series);
    return series;
  }
}
