import { Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { Code, MeshError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { LeaseId, Store, StoreEvent, StoreWatch, StoreWatchHandlers, StoredValue } from '../store.js';

/** Options for {@link EtcdStore.connect}. */
export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  logger: Logger;
  /** Per-request deadline (default 5 s). */
  timeoutMs?: number;
}

type KeepAliveStream = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>;

interface KeepAliveWaiter {
  resolve(alive: boolean): void;
  reject(error: Error): void;
}

/** etcd3's cancel of a watch that etcd already ended waits forever for an answer: give it a bound. */
async function cancelWithin(watcher: Watcher, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    watcher.cancel().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

function unavailable(error: unknown, what: string): MeshError {
  if (error instanceof MeshError) return error;
  return new MeshError(Code.UNAVAILABLE, `etcd ${what} failed: ${(error as Error).message}`, {
    cause: error,
  });
}

function toStored(kv: IKeyValue): StoredValue {
  const stored: StoredValue = {
    key: kv.key.toString(),
    value: kv.value.toString(),
    revision: Number(kv.mod_revision),
  };
  if (kv.lease && kv.lease !== '0') stored.lease = kv.lease;
  return stored;
}

/**
 * The store on etcd, for several control-plane replicas: registrations are keys attached to etcd leases (so etcd
 * itself removes an agent whose heartbeats stop, whichever replica it talked to), watches are etcd watches, and
 * the health-check leader is chosen by an etcd election. Revisions are etcd's, shared by every replica, so a
 * watcher can resume on another replica.
 */
export class EtcdStore implements Store {
  readonly kind = 'etcd';
  private keepAliveStream: Promise<KeepAliveStream> | undefined;
  private readonly pendingKeepAlives = new Map<string, KeepAliveWaiter[]>();
  private readonly watchers = new Set<Watcher>();

  private constructor(
    private readonly client: Etcd3,
    private readonly options: EtcdStoreOptions,
  ) {}

  /**
   * Connects and checks that etcd answers.
   * @throws MeshError UNAVAILABLE naming the endpoints when it does not.
   */
  static async connect(options: EtcdStoreOptions): Promise<EtcdStore> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const client = new Etcd3({
      hosts: options.endpoints,
      dialTimeout: timeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    });
    try {
      await client.kv.range(
        { key: Buffer.from('agentmesh/ping') },
        { deadline: Date.now() + (options.timeoutMs ?? 5_000) },
      );
    } catch (error) {
      client.close();
      throw new MeshError(
        Code.UNAVAILABLE,
        `cannot reach etcd at ${options.endpoints.join(', ')}: ${(error as Error).message} (is etcd running? see --etcd-endpoints)`,
        { cause: error },
      );
    }
    return new EtcdStore(client, options);
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + (this.options.timeoutMs ?? 5_000) };
  }

  async grantLease(ttlMs: number): Promise<{ lease: LeaseId; ttlMs: number }> {
    try {
      const response = await this.client.leaseClient.leaseGrant(
        { TTL: Math.max(1, Math.ceil(ttlMs / 1000)), ID: 0 },
        this.deadline(),
      );
      return { lease: response.ID, ttlMs: Number(response.TTL) * 1000 };
    } catch (error) {
      throw unavailable(error, 'lease grant');
    }
  }

  /** Renews over one long-lived keepalive stream shared by all leases; answers come back by lease id. */
  async keepAlive(lease: LeaseId): Promise<boolean> {
    let stream: KeepAliveStream;
    try {
      stream = await this.openKeepAliveStream();
    } catch (error) {
      throw unavailable(error, 'lease keepalive');
    }
    return new Promise((resolve, reject) => {
      const waiter: KeepAliveWaiter = {
        resolve: (alive) => {
          clearTimeout(timer);
          resolve(alive);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(unavailable(error, 'lease keepalive'));
        },
      };
      const timer = setTimeout(() => {
        this.forgetWaiter(lease, waiter);
        waiter.reject(new Error('no answer in time'));
      }, this.options.timeoutMs ?? 5_000);
      const waiting = this.pendingKeepAlives.get(lease) ?? [];
      waiting.push(waiter);
      this.pendingKeepAlives.set(lease, waiting);
      stream.write({ ID: lease });
    });
  }

  private forgetWaiter(lease: LeaseId, waiter: KeepAliveWaiter): void {
    const waiting = this.pendingKeepAlives.get(lease);
    if (!waiting) return;
    const index = waiting.indexOf(waiter);
    if (index >= 0) waiting.splice(index, 1);
    if (waiting.length === 0) this.pendingKeepAlives.delete(lease);
  }

  private openKeepAliveStream(): Promise<KeepAliveStream> {
    if (this.keepAliveStream) return this.keepAliveStream;
    const opening = this.client.leaseClient.leaseKeepAlive().then((stream) => {
      stream.on('data', (response: { ID: string; TTL: string }) => {
        const waiting = this.pendingKeepAlives.get(response.ID);
        const next = waiting?.shift();
        if (waiting && waiting.length === 0) this.pendingKeepAlives.delete(response.ID);
        next?.resolve(Number(response.TTL) > 0);
      });
      const reset = (error?: Error) => {
        if (this.keepAliveStream === opening) this.keepAliveStream = undefined;
        // Whatever was waiting on this stream will not be answered: fail it now rather than at its timeout.
        const waiting = [...this.pendingKeepAlives.values()].flat();
        this.pendingKeepAlives.clear();
        for (const waiter of waiting) waiter.reject(error ?? new Error('keepalive stream ended'));
        if (error)
          this.options.logger.warn({ err: error }, 'etcd keepalive stream broke; reopening on next use');
      };
      stream.on('error', reset);
      stream.on('end', () => reset());
      return stream;
    });
    // A failed open (etcd down, circuit open) must not be remembered: the next keepalive tries again.
    opening.catch(() => {
      if (this.keepAliveStream === opening) this.keepAliveStream = undefined;
    });
    this.keepAliveStream = opening;
    return opening;
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: lease }, this.deadline());
    } catch (error) {
      if (/lease not found/i.test((error as Error).message)) return;
      throw unavailable(error, 'lease revoke');
    }
  }

  async put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<number> {
    try {
      const response = await this.client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), lease: options.lease ?? 0 },
        this.deadline(),
      );
      return Number(response.header.revision);
    } catch (error) {
      throw unavailable(error, 'put');
    }
  }

  async putIfRevision(
    key: string,
    value: string,
    revision: number,
    options: { lease?: LeaseId } = {},
  ): Promise<boolean> {
    return this.putIf(key, value, options, 'Mod', revision);
  }

  async create(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<boolean> {
    return this.putIf(key, value, options, 'Create', 0);
  }

  /** A put in a transaction that succeeds only when the key's `field` revision equals `expected`. */
  private async putIf(
    key: string,
    value: string,
    options: { lease?: LeaseId },
    field: 'Mod' | 'Create',
    expected: number,
  ): Promise<boolean> {
    try {
      const put = this.client.put(key).value(value);
      if (options.lease !== undefined) put.lease(options.lease);
      const result = await this.client.if(key, field, '==', expected).then(put).commit();
      return result.succeeded;
    } catch (error) {
      throw unavailable(error, field === 'Mod' ? 'compare-and-put' : 'create');
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      const response = await this.client.kv.deleteRange({ key: Buffer.from(key) }, this.deadline());
      return Number(response.deleted) > 0;
    } catch (error) {
      throw unavailable(error, 'delete');
    }
  }

  async get(key: string): Promise<StoredValue | undefined> {
    try {
      const response = await this.client.kv.range({ key: Buffer.from(key) }, this.deadline());
      return response.kvs[0] ? toStored(response.kvs[0]) : undefined;
    } catch (error) {
      throw unavailable(error, 'get');
    }
  }

  async list(prefix: string): Promise<{ items: StoredValue[]; revision: number }> {
    try {
      const response = await this.client.getAll().prefix(prefix).exec();
      return { items: response.kvs.map(toStored), revision: Number(response.header.revision) };
    } catch (error) {
      throw unavailable(error, 'list');
    }
  }

  async watch(prefix: string, afterRevision: number, handlers: StoreWatchHandlers): Promise<StoreWatch> {
    let watcher: Watcher;
    try {
      watcher = await this.client
        .watch()
        .prefix(prefix)
        .startRevision(String(afterRevision + 1))
        .create();
    } catch (error) {
      throw unavailable(error, 'watch');
    }
    this.watchers.add(watcher);
    watcher.on('data', (response: IWatchResponse) => {
      const events: StoreEvent[] = response.events.map((event) =>
        event.type === 'Put'
          ? { type: 'put', ...toStored(event.kv) }
          : {
              type: 'delete',
              key: event.kv.key.toString(),
              revision: Number(event.kv.mod_revision),
              cause: 'unknown', // etcd does not say why a key went: a delete and a lease expiry look alike
            },
      );
      if (events.length > 0) handlers.onEvents(events);
    });
    watcher.on('error', (error: Error) => handlers.onError(error));
    return {
      close: async () => {
        this.watchers.delete(watcher);
        await cancelWithin(watcher, 1_000);
      },
    };
  }

  async campaign(name: string, onChange: (leader: boolean) => void): Promise<() => Promise<void>> {
    const election = this.client.election(name, 5);
    let stopped = false;
    let campaign: ReturnType<typeof election.campaign> | undefined;
    const run = () => {
      if (stopped) return;
      campaign = election.campaign(`${process.pid}-${Math.random().toString(36).slice(2)}`);
      campaign.on('elected', () => onChange(true));
      campaign.on('error', (error: Error) => {
        onChange(false);
        this.options.logger.warn({ err: error }, `lost the "${name}" election; campaigning again`);
        setTimeout(run, 1_000).unref();
      });
    };
    run();
    return async () => {
      stopped = true;
      await campaign?.resign().catch(() => undefined);
      onChange(false);
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers].map((watcher) => cancelWithin(watcher, 1_000)));
    this.watchers.clear();
    const stream = await this.keepAliveStream?.catch(() => undefined);
    stream?.end();
    this.client.close();
  }
}
