import type { AgentRecord, Health, LoadReport } from '../core/agent-record.js';
import type { LabelSelector } from '../core/label-selector.js';
import { matchesQuery } from '../core/watch-scope.js';

/** A discovery query, already validated. */
export interface DiscoveryQuery {
  type?: string;
  /** All of these are required. */
  capabilities?: readonly string[];
  selector?: LabelSelector;
  /** Also return unhealthy and draining agents. */
  includeUnhealthy?: boolean;
  /** Only agents offering the skill with this id, and a skill with this tag. */
  skill?: string;
  skillTag?: string;
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (!ids) {
    ids = new Set();
    index.set(key, ids);
  }
  ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key);
  if (!ids) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}

const EMPTY: ReadonlySet<string> = new Set();

/**
 * The in-memory view of registered agents, with indexes by type, capability and label so that discovery looks at
 * the smallest candidate set instead of every agent. It is fed by the store's watch (every replica keeps its own
 * view) and is pure data: no timers, no I/O.
 */
export class Registry {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly byType = new Map<string, Set<string>>();
  private readonly byCapability = new Map<string, Set<string>>();
  /** Keyed by `key=value`. */
  private readonly byLabel = new Map<string, Set<string>>();
  private readonly healthCounts = new Map<Health, number>();
  /** The agents with at least one subscription. */
  private readonly withSubscriptions = new Set<string>();

  /** Number of registered agents. */
  get size(): number {
    return this.agents.size;
  }

  get(id: string): AgentRecord | undefined {
    return this.agents.get(id);
  }

  /** Every agent, in no particular order. */
  all(): IterableIterator<AgentRecord> {
    return this.agents.values();
  }

  /** How many agents are in each health state. */
  countByHealth(): ReadonlyMap<Health, number> {
    return this.healthCounts;
  }

  /** Adds or replaces a record. */
  put(record: AgentRecord): void {
    this.remove(record.id);
    this.agents.set(record.id, record);
    addTo(this.byType, record.spec.type, record.id);
    for (const capability of record.spec.capabilities) addTo(this.byCapability, capability, record.id);
    for (const [key, value] of Object.entries(record.spec.labels))
      addTo(this.byLabel, `${key}=${value}`, record.id);
    if (record.spec.subscriptions.length > 0) this.withSubscriptions.add(record.id);
    this.healthCounts.set(record.health, (this.healthCounts.get(record.health) ?? 0) + 1);
  }

  /** The agents that subscribe to any topic, in no particular order. */
  *subscribers(): IterableIterator<AgentRecord> {
    for (const id of this.withSubscriptions) yield this.agents.get(id)!;
  }

  /**
   * Records an agent's new load: the record is replaced by a copy with it (records are shared with watchers and
   * never changed in place), and no index changes. Returns the new record, or undefined for an unknown agent.
   */
  setLoad(id: string, load: LoadReport): AgentRecord | undefined {
    const record = this.agents.get(id);
    if (!record) return undefined;
    const updated = { ...record, load };
    this.agents.set(id, updated);
    return updated;
  }

  /** Removes a record; returns it, or undefined when there was none. */
  remove(id: string): AgentRecord | undefined {
    const record = this.agents.get(id);
    if (!record) return undefined;
    this.agents.delete(id);
    removeFrom(this.byType, record.spec.type, id);
    for (const capability of record.spec.capabilities) removeFrom(this.byCapability, capability, id);
    for (const [key, value] of Object.entries(record.spec.labels))
      removeFrom(this.byLabel, `${key}=${value}`, id);
    this.withSubscriptions.delete(id);
    this.healthCounts.set(record.health, (this.healthCounts.get(record.health) ?? 1) - 1);
    return record;
  }

  /** Removes every record. */
  clear(): void {
    this.agents.clear();
    this.byType.clear();
    this.byCapability.clear();
    this.byLabel.clear();
    this.withSubscriptions.clear();
    this.healthCounts.clear();
  }

  /** Agents matching every filter of the query, ordered by id. */
  discover(query: DiscoveryQuery): AgentRecord[] {
    const candidates = this.candidates(query);
    const found: AgentRecord[] = [];
    for (const id of candidates) {
      const record = this.agents.get(id)!;
      if (!query.includeUnhealthy && record.health !== 'healthy') continue;
      if (!matchesQuery(record, query, query.selector)) continue;
      found.push(record);
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The smallest indexed set that every match must belong to. */
  private candidates(query: DiscoveryQuery): Iterable<string> {
    const sets: ReadonlySet<string>[] = [];
    if (query.type) sets.push(this.byType.get(query.type) ?? EMPTY);
    for (const capability of query.capabilities ?? []) sets.push(this.byCapability.get(capability) ?? EMPTY);
    for (const requirement of query.selector?.requirements ?? []) {
      if (requirement.op !== 'in') continue;
      if (requirement.values.length === 1) {
        sets.push(this.byLabel.get(`${requirement.key}=${requirement.values[0]}`) ?? EMPTY);
      } else {
        const union = new Set<string>();
        for (const value of requirement.values) {
          for (const id of this.byLabel.get(`${requirement.key}=${value}`) ?? EMPTY) union.add(id);
        }
        sets.push(union);
      }
    }
    if (sets.length === 0) return this.agents.keys();
    return sets.reduce((smallest, set) => (set.size < smallest.size ? set : smallest));
  }
}
