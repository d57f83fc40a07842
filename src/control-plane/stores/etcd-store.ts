import {
  Etcd3,
  EtcdLeaseInvalidError,
  type Campaign,
  type IKeyValue,
  type IWatchResponse,
  type Watcher,
} from 'etcd3';
import { Backoff } from '../../core/backoff.js';
import { Code, MeshError } from '../../core/errors.js';
import type { Logger } from '../../observability/logger.js';
import { OutageLog } from '../../observability/outage-log.js';
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
  readonly durable = true;
  private keepAliveStream: Promise<KeepAliveStream> | undefined;
  private readonly pendingKeepAlives = new Map<string, KeepAliveWaiter[]>();
  private readonly watchers = new Set<Watcher>();
  private readonly outage: OutageLog;
  private readonly where: string;

  private constructor(
    private readonly client: Etcd3,
    private readonly options: EtcdStoreOptions,
  ) {
    this.where = options.endpoints.join(',');
    this.outage = new OutageLog({
      logger: options.logger,
      subject: 'etcd',
      meanwhile:
        'the control plane answers reads (discovery, watches) from the registry as last seen; registrations and heartbeats fail with UNAVAILABLE until it is back',
    });
  }

  /** Whether the last request to etcd failed to get an answer. */
  get unreachable(): boolean {
    return this.outage.unreachable;
  }

  /**
   * Runs one request, noting whether etcd answered. etcd's answer that a lease is gone becomes NOT_FOUND (etcd is
   * there: no outage); any other failure becomes UNAVAILABLE naming `what`.
   */
  private async request<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      const value = await operation();
      this.outage.succeeded(this.where);
      return value;
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) {
        this.outage.succeeded(this.where);
        throw new MeshError(Code.NOT_FOUND, `etcd ${what}: the lease no longer exists (it ended)`, {
          cause: error,
        });
      }
      const failure = unavailable(error, what);
      this.outage.failed(this.where, failure);
      throw failure;
    }
  }

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
    const response = await this.request('lease grant', () =>
      this.client.leaseClient.leaseGrant(
        { TTL: Math.max(1, Math.ceil(ttlMs / 1000)), ID: 0 },
        this.deadline(),
      ),
    );
    return { lease: response.ID, ttlMs: Number(response.TTL) * 1000 };
  }

  /** Renews over one long-lived keepalive stream shared by all leases; answers come back by lease id. */
  async keepAlive(lease: LeaseId): Promise<boolean> {
    let stream: KeepAliveStream;
    try {
      stream = await this.openKeepAliveStream(); // local: opening asks nothing of etcd yet
    } catch (error) {
      const failure = unavailable(error, 'lease keepalive');
      this.outage.failed(this.where, failure);
      throw failure;
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
        const failure = unavailable(new Error('no answer in time'), 'lease keepalive');
        this.outage.failed(this.where, failure);
        waiter.reject(failure);
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
        this.outage.succeeded(this.where);
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
        // Reopened on the next keepalive; the outage, if it is one, is logged once however often that fails.
        if (error) this.outage.failed(this.where, unavailable(error, 'lease keepalive stream'));
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
    await this.request('lease revoke', () =>
      this.client.leaseClient.leaseRevoke({ ID: lease }, this.deadline()),
    ).catch((error: unknown) => {
      // etcd's answer that the lease is gone already: what revoking wanted.
      if (!(error instanceof MeshError && error.code === Code.NOT_FOUND)) throw error;
    });
  }

  async put(key: string, value: string, options: { lease?: LeaseId } = {}): Promise<number> {
    const response = await this.request('put', () =>
      this.client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), lease: options.lease ?? 0 },
        this.deadline(),
      ),
    );
    return Number(response.header.revision);
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
    const put = this.client.put(key).value(value);
    if (options.lease !== undefined) put.lease(options.lease);
    const result = await this.request(field === 'Mod' ? 'compare-and-put' : 'create', () =>
      this.client.if(key, field, '==', expected).then(put).commit(),
    );
    return result.succeeded;
  }

  async delete(key: string): Promise<boolean> {
    const response = await this.request('delete', () =>
      this.client.kv.deleteRange({ key: Buffer.from(key) }, this.deadline()),
    );
    return Number(response.deleted) > 0;
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const response = await this.request('get', () =>
      this.client.kv.range({ key: Buffer.from(key) }, this.deadline()),
    );
    return response.kvs[0] ? toStored(response.kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<{ items: StoredValue[]; revision: number }> {
    const response = await this.request('list', () => this.client.getAll().prefix(prefix).exec());
    return { items: response.kvs.map(toStored), revision: Number(response.header.revision) };
  }

  async watch(prefix: string, afterRevision: number, handlers: StoreWatchHandlers): Promise<StoreWatch> {
    const watcher = await this.request('watch', () =>
      this.client
        .watch()
        .prefix(prefix)
        .startRevision(String(afterRevision + 1))
        .create(),
    );
    this.watchers.add(watcher);
    // etcd3 reconnects a broken watch by itself and resumes it from its revision. A member that accepts a watch
    // may still have no quorum, so a reconnected watch says nothing of etcd's health; a lost one does.
    watcher.on('disconnected', (error: Error) => this.outage.failed(this.where, unavailable(error, 'watch')));
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

  /**
   * One campaign at a time: when it fails (etcd lost, the campaign's lease lost), it is abandoned (its later errors
   * ignored), leadership is given up, and a new one starts after a jittered backoff. etcd3 can report one failure
   * more than once; a new campaign per report would multiply them.
   */
  async campaign(name: string, onChange: (leader: boolean) => void): Promise<() => Promise<void>> {
    const election = this.client.election(name, 5);
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    let stopped = false;
    let current: Campaign | undefined;
    let retry: NodeJS.Timeout | undefined;
    let leader = false;
    const lead = (value: boolean) => {
      if (leader === value) return;
      leader = value;
      onChange(value);
    };
    const run = () => {
      retry = undefined;
      if (stopped) return;
      const campaign = election.campaign(`${process.pid}-${Math.random().toString(36).slice(2)}`);
      current = campaign;
      campaign.on('elected', () => {
        if (current !== campaign) return;
        backoff.reset();
        lead(true);
      });
      campaign.on('error', (error: Error) => {
        if (current !== campaign) return; // a campaign already given up
        current = undefined;
        lead(false);
        campaign.resign().catch(() => undefined);
        this.outage.failed(this.where, unavailable(error, `"${name}" election`));
        if (!stopped) {
          retry = setTimeout(run, backoff.next());
          retry.unref();
        }
      });
    };
    run();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const campaign = current;
      current = undefined;
      await campaign?.resign().catch(() => undefined);
      lead(false);
    };
  }

  async close(): Promise<void> {
    this.outage.close();
    await Promise.all([...this.watchers].map((watcher) => cancelWithin(watcher, 1_000)));
    this.watchers.clear();
    const stream = await this.keepAliveStream?.catch(() => undefined);
    stream?.end();
    this.client.close();
  }
}
