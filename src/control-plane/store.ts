/**
 * The control plane's storage: a small revisioned key-value interface with leases and watches, the shape etcd
 * has, so that the in-memory store (the embedded default) and the etcd store (several replicas) are
 * interchangeable. Domain code (registry view, leases, join tokens, policies) is written against it.
 */

/** A lease: keys attached to it vanish when it is not kept alive within its TTL. */
export type LeaseId = string;

/** A stored value and its metadata. */
export interface StoredValue {
  key: string;
  value: string;
  /** The revision of the key's last change. */
  revision: number;
  lease?: LeaseId;
}

/** One change to a key. */
export type StoreEvent =
  | { type: 'put'; key: string; value: string; revision: number; lease?: LeaseId }
  | {
      type: 'delete';
      key: string;
      revision: number;
      /** Why the key went, when the store knows: deleted, or gone with its lease; 'unknown' otherwise (etcd). */
      cause: 'deleted' | 'lease-expired' | 'unknown';
    };

/** A running watch. */
export interface StoreWatch {
  close(): Promise<void>;
}

/** What a watch is told. */
export interface StoreWatchHandlers {
  /** Changes in revision order; each batch shares no revision with the next. */
  onEvents(events: StoreEvent[]): void;
  /** The watch broke for good (e.g. the requested revision was compacted away); start a new one from a list. */
  onError(error: Error): void;
}

/** Store operations. Every method rejects with a MeshError (UNAVAILABLE when the backend cannot be reached). */
export interface Store {
  /** `memory` or `etcd`, for logs and metrics. */
  readonly kind: string;
  /**
   * Whether what is stored outlives the control-plane process. A control plane on a store that does not (the
   * in-memory one) starts empty after a restart, while the agents that were registered are still running.
   */
  readonly durable: boolean;

  /** Grants a lease of about `ttlMs` (backends may round up). */
  grantLease(ttlMs: number): Promise<{ lease: LeaseId; ttlMs: number }>;
  /** Renews a lease; resolves false when it no longer exists. */
  keepAlive(lease: LeaseId): Promise<boolean>;
  /** Ends a lease now, deleting its keys. */
  revokeLease(lease: LeaseId): Promise<void>;

  /**
   * Writes a key, attached to `lease` when given; resolves to the new revision.
   * @throws MeshError NOT_FOUND when `lease` no longer exists.
   */
  put(key: string, value: string, options?: { lease?: LeaseId }): Promise<number>;
  /**
   * Writes a key only if its last change was at `revision` (compare-and-swap); resolves false when someone else
   * changed or removed it since.
   */
  putIfRevision(
    key: string,
    value: string,
    revision: number,
    options?: { lease?: LeaseId },
  ): Promise<boolean>;
  /** Writes a key only if it does not exist; resolves false when it did. */
  create(key: string, value: string, options?: { lease?: LeaseId }): Promise<boolean>;
  /** Deletes a key; resolves false when there was none. */
  delete(key: string): Promise<boolean>;
  get(key: string): Promise<StoredValue | undefined>;
  /** Every key under a prefix, and the revision the list reflects. */
  list(prefix: string): Promise<{ items: StoredValue[]; revision: number }>;
  /** Watches a prefix for changes made after `afterRevision`. */
  watch(prefix: string, afterRevision: number, handlers: StoreWatchHandlers): Promise<StoreWatch>;

  /**
   * Joins the election `name`: `onChange(true)` when this process becomes the leader, `onChange(false)` when it
   * stops being one. Resolves to a function that leaves the election.
   */
  campaign(name: string, onChange: (leader: boolean) => void): Promise<() => Promise<void>>;

  close(): Promise<void>;
}
