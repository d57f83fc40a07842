import * as grpc from '@grpc/grpc-js';
import type { AgentRecord } from '../core/agent-record.js';
import { connectionLost } from '../transport/agent-connection.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import {
  decodeAckBatch,
  encodedDeliverySize,
  serializeDeliveryBatch,
  type AckAnswer,
  type EncodedDelivery,
} from '../transport/delivery-codec.js';

/** The most deliveries written in one `EventDeliveryBatch`. */
export const MAX_BATCH = 512;

/**
 * The most bytes of deliveries written in one `EventDeliveryBatch`, well within gRPC's default 4 MiB message limit
 * of the receiving agent. A single delivery larger than this (a payload near the 1 MiB default limit, with its
 * fields) goes alone.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** The outbox size from which a link sweeps out deliveries no longer wanted. */
const SWEEP_AT = 4 * MAX_BATCH;

/** What a {@link DeliveryLink} reports to the publisher. */
export interface DeliveryLinkHandlers {
  /** Acks that came back on the stream, in one message. */
  onAcks(acks: AckAnswer[]): void;
  /** A message carrying `deliveries` deliveries was written. */
  onWritten(deliveries: number): void;
  /** The stream broke or the link closed: every delivery sent over `link` and not yet answered is lost. */
  onBroken(link: DeliveryLink, reason: string): void;
  /**
   * Whether a delivery queued on `link` is still to be written: false once it moved on before its turn came (its
   * ack deadline passed and it is retried).
   */
  wanted(link: DeliveryLink, deliveryId: string): boolean;
}

/**
 * The delivery stream to one subscribing agent (`Agent.DeliverEvents`, over mTLS to the agent's SPIFFE ID), and
 * the batching on it: one write at a time; deliveries queued meanwhile go together when that write drains, or at
 * the end of the turn of the event loop when nothing is being written (no timer, so an idle link adds no delay).
 * A batch holds at most {@link MAX_BATCH} deliveries and {@link MAX_BATCH_BYTES}. A subscriber that stops reading
 * stops the writes; what waits here is bounded by the publisher's in-flight limits, and a delivery that moved on
 * meanwhile (retried elsewhere after its ack deadline) is dropped rather than written. Acks come back on the same
 * stream, read without converting them to objects of the generic deserializer. A broken stream is reported (the
 * publisher knows what it sent over this link); the next send opens a new one. The publisher's only grpc-js code.
 */
export class DeliveryLink {
  readonly endpoint: string;
  readonly spiffeId: string;
  private readonly channel: grpc.Client;
  private stream: grpc.ClientDuplexStream<EncodedDelivery[], AckAnswer[]> | undefined;
  private outbox: EncodedDelivery[] = [];
  private outboxHead = 0;
  /** The outbox length at which deliveries no longer wanted are swept out of it while a write is stuck. */
  private sweepAt = SWEEP_AT;
  private scheduled = false;
  /** The stream with a write in flight, if any: nothing more is written to it until that one drains. */
  private writing: grpc.ClientDuplexStream<EncodedDelivery[], AckAnswer[]> | undefined;
  /** Whether the channel was ever seen READY. */
  private readonly seen = { connected: false };
  /** Closed links never open a stream again: grpc-js throws on a call over a closed channel. */
  private closed = false;

  constructor(
    record: AgentRecord,
    identity: MeshIdentity,
    private readonly handlers: DeliveryLinkHandlers,
  ) {
    this.endpoint = record.spec.endpoint;
    this.spiffeId = record.spiffeId;
    this.channel = new grpc.Client(
      record.spec.endpoint,
      createChannelCredentials(identity, record.spiffeId),
      MESH_CHANNEL_OPTIONS,
    );
  }

  /** Whether this link still leads to `record` (the same endpoint and SPIFFE ID). */
  leadsTo(record: AgentRecord | undefined): boolean {
    return (
      record !== undefined && record.spec.endpoint === this.endpoint && record.spiffeId === this.spiffeId
    );
  }

  /**
   * Whether the link had a connection and lost it (see {@link connectionLost}): its member is passed over while
   * another is reachable.
   */
  lost(): boolean {
    return connectionLost(this.channel.getChannel() as grpc.Channel, this.seen);
  }

  /** Whether {@link DeliveryLink.close} was called: the link takes no more deliveries. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Queues a delivery: written with the others at the end of this turn, or when the write before drains. Returns
   * false, queueing nothing, when the link is closed (the caller sends it again over the agent's current link).
   */
  send(delivery: EncodedDelivery): boolean {
    if (this.closed) return false;
    this.outbox.push(delivery);
    if (this.outbox.length >= this.sweepAt) this.sweep();
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Cancels the stream, reports what it carried as lost, and closes the channel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.broken('the subscriber left the mesh');
    this.channel.close();
  }

  /** Writes the next batch of the outbox, unless a write is still in flight. */
  private flush(): void {
    if (this.writing || this.closed) return;
    const batch: EncodedDelivery[] = [];
    let bytes = 0;
    while (this.outboxHead < this.outbox.length && batch.length < MAX_BATCH) {
      const delivery = this.outbox[this.outboxHead]!;
      if (!this.handlers.wanted(this, delivery.deliveryId)) {
        this.outboxHead += 1;
        continue;
      }
      const size = encodedDeliverySize(delivery);
      if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
      batch.push(delivery);
      bytes += size;
      this.outboxHead += 1;
    }
    if (this.outboxHead === this.outbox.length) {
      this.outbox = [];
      this.outboxHead = 0;
    } else if (this.outboxHead > 1024 && this.outboxHead * 2 > this.outbox.length) {
      this.outbox = this.outbox.slice(this.outboxHead);
      this.outboxHead = 0;
    }
    if (batch.length === 0) return;
    const stream = this.stream ?? this.open();
    if (!stream) return;
    this.writing = stream;
    this.handlers.onWritten(batch.length);
    stream.write(batch, () => {
      if (this.writing !== stream) return; // the stream broke meanwhile; a new one has its own writes
      this.writing = undefined;
      this.flush(); // drained: what was queued meanwhile goes now
    });
  }

  /**
   * Drops the deliveries no longer wanted from the outbox (a write stuck on a subscriber that stopped reading,
   * while their retries went elsewhere), so that it holds at most about twice what is still in flight here.
   */
  private sweep(): void {
    this.outbox = this.outbox
      .slice(this.outboxHead)
      .filter((delivery) => this.handlers.wanted(this, delivery.deliveryId));
    this.outboxHead = 0;
    this.sweepAt = Math.max(SWEEP_AT, 2 * this.outbox.length);
  }

  /** A new stream, or undefined (what was queued reported lost) when grpc-js refuses to start one. */
  private open(): grpc.ClientDuplexStream<EncodedDelivery[], AckAnswer[]> | undefined {
    // Requests are written with the publisher's own serializer: each event is encoded once, not per delivery.
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    let stream: grpc.ClientDuplexStream<EncodedDelivery[], AckAnswer[]>;
    try {
      stream = this.channel.makeBidiStreamRequest(method.path, serializeDeliveryBatch, decodeAckBatch);
    } catch (error) {
      // Never thrown into a timer: the deliveries are lost with the link and retried by the publisher.
      this.broken(
        `no delivery stream could be opened: ${error instanceof Error ? error.message : String(error)}`,
      );
      return undefined;
    }
    this.stream = stream;
    stream.on('data', (acks: AckAnswer[]) => this.handlers.onAcks(acks));
    const ended = (reason: string) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.broken(reason);
    };
    stream.on('error', (error: grpc.ServiceError) =>
      ended(`delivery stream failed: ${error.details || error.message}`),
    );
    stream.on('end', () => ended('the subscriber closed the delivery stream'));
    return stream;
  }

  private broken(reason: string): void {
    this.outbox = [];
    this.outboxHead = 0;
    this.writing = undefined;
    this.handlers.onBroken(this, reason);
  }
}

/**
 * The publisher's links, one per subscribing agent, made on first send and replaced when the agent's endpoint or
 * SPIFFE ID changes. {@link DeliveryLinks.prune} closes those whose agent left after a registry change.
 */
export class DeliveryLinks {
  private readonly links = new Map<string, DeliveryLink>();

  constructor(
    private readonly identity: MeshIdentity,
    private readonly handlers: DeliveryLinkHandlers,
  ) {}

  /** The link to `record`'s agent, opened (or replaced) when it does not lead there yet. */
  linkFor(record: AgentRecord): DeliveryLink {
    const existing = this.links.get(record.id);
    if (existing && !existing.isClosed && existing.leadsTo(record)) return existing;
    existing?.close();
    const link = new DeliveryLink(record, this.identity, this.handlers);
    this.links.set(record.id, link);
    return link;
  }

  /** Whether the link to `agentId` lost its connection (false when there is no link yet). */
  lost(agentId: string): boolean {
    return this.links.get(agentId)?.lost() ?? false;
  }

  /** Closes the links whose agent left the registry or moved (a new endpoint or SPIFFE ID). */
  prune(lookup: (agentId: string) => AgentRecord | undefined): void {
    for (const [id, link] of this.links) {
      if (!link.leadsTo(lookup(id))) {
        this.links.delete(id);
        link.close();
      }
    }
  }

  /** Closes every link. */
  close(): void {
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }
}
