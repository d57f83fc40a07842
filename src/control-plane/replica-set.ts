import { Code, MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import { OutageLog } from '../observability/outage-log.js';

/** Whether a failed call says that the replica could not be reached (or did not answer in time): worth another. */
export function unreachable(error: MeshError): boolean {
  return error.code === Code.UNAVAILABLE || error.code === Code.DEADLINE_EXCEEDED;
}

/** One replica of the control plane, and the client stub to it (made when first used). */
export interface Replica<Stub> {
  address: string;
  stub: Stub | undefined;
}

/** Options for {@link ReplicaSet}. */
export interface ReplicaSetOptions<Stub> {
  /** The replicas' addresses, already parsed (at least one). */
  addresses: readonly string[];
  /** Makes a stub (and its channel) to one address. */
  connect: (address: string) => Stub;
  /** Where losing and finding the control plane is logged (a few lines per outage). */
  logger: Logger;
  random: () => number;
}

/**
 * The replicas of the control plane a client talks to, one at a time: it starts at a random one, so that a fleet
 * spreads over them, and moves to the next when the current one cannot be reached; the outages are logged once
 * each, with a summary when a replica answers again. Stubs are made when first used and kept.
 */
export class ReplicaSet<Stub extends { close(): void }> {
  private readonly replicas: Replica<Stub>[];
  private index: number;
  private readonly connect: (address: string) => Stub;
  private readonly reachability: OutageLog;
  private closed = false;

  constructor(options: ReplicaSetOptions<Stub>) {
    this.connect = options.connect;
    this.replicas = options.addresses.map((address) => ({ address, stub: undefined }));
    this.index = Math.floor(options.random() * this.replicas.length) % this.replicas.length;
    this.reachability = new OutageLog({
      logger: options.logger,
      subject: 'control plane',
      meanwhile: 'serving and calling on the last known endpoints and policies, retrying with backoff',
    });
  }

  /** How many replicas there are. */
  get size(): number {
    return this.replicas.length;
  }

  /** The replica the next call goes to. */
  get current(): Replica<Stub> {
    return this.replicas[this.index]!;
  }

  /** Whether the last call or watch failed to reach the control plane. */
  get unreachable(): boolean {
    return this.reachability.unreachable;
  }

  /**
   * The stub of `replica`, made now when it has none.
   * @throws MeshError FAILED_PRECONDITION once the set is closed.
   */
  stubOf(replica: Replica<Stub>): Stub {
    if (this.closed) {
      throw new MeshError(Code.FAILED_PRECONDITION, 'this control-plane client is closed');
    }
    replica.stub ??= this.connect(replica.address);
    return replica.stub;
  }

  /** `replica` answered (a refusal counts): an outage under way ends. */
  succeeded(replica: Replica<Stub>): void {
    this.reachability.succeeded(replica.address);
  }

  /** `replica` could not be reached: logged (once per outage), and the next call goes to the next replica. */
  failedAt(replica: Replica<Stub>, error: MeshError): void {
    this.reachability.failed(replica.address, error);
    if (this.replicas[this.index] === replica) this.index = (this.index + 1) % this.replicas.length;
  }

  /** Replaces every stub made so far by a new one, and closes the old (calls on them finish). */
  reconnect(): void {
    for (const replica of this.replicas) {
      const previous = replica.stub;
      replica.stub = previous && this.connect(replica.address);
      previous?.close();
    }
  }

  /** Closes every stub; no stub is made after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reachability.close();
    for (const replica of this.replicas) replica.stub?.close();
  }
}

/**
 * Makes one call on the replicas in turn (`attempt` picks which), moving on only while they cannot be reached; a
 * refusal is final. Each attempt gets its share of the time left (half for the first of two), so that a replica
 * that hangs does not take the time of the others.
 */
export async function acrossReplicas<T>(
  replicas: number,
  deadline: number,
  attempt: (attemptDeadline: number) => Promise<T>,
): Promise<T> {
  let failure: MeshError | undefined;
  for (let tried = 0; tried < replicas; tried += 1) {
    const now = Date.now();
    if (now >= deadline) break;
    try {
      return await attempt(now + (deadline - now) / (replicas - tried));
    } catch (error) {
      failure = MeshError.from(error);
      if (!unreachable(failure)) throw failure;
    }
  }
  throw failure ?? new MeshError(Code.DEADLINE_EXCEEDED, 'no time left for a call to the control plane');
}
