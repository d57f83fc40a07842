import * as grpc from '@grpc/grpc-js';
import type { AgentRecord } from '../core/agent-record.js';
import type { AckBatch__Output } from '../generated/agentmesh/v1/AckBatch.js';
import { connectionLost } from '../transport/agent-connection.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { serializeDeliveryBatch, type EncodedDelivery } from './delivery-codec.js';

/** The most deliveries written in one `EventDeliveryBatch`. */
const MAX_BATCH = 512;

/** What a {@link DeliveryLink} reports to the publisher. */
export interface DeliveryLinkHandlers {
  /** Acks that came back on the stream. */
  onAcks(batch: AckBatch__Output): void;
  /** The stream broke or the link closed: every delivery sent over `link` and not yet answered is lost. */
  onBroken(link: DeliveryLink, reason: string): void;
}

/**
 * The delivery stream to one subscribing agent (`Agent.DeliverEvents`, over mTLS to the agent's SPIFFE ID):
 * deliveries are written in batches (those sent in the same turn of the event loop travel together) and acks
 * come back on the same stream. A broken stream is reported (the publisher knows what it sent over this link);
 * the next send opens a new one. The publisher's only grpc-js code.
 */
export class DeliveryLink {
  readonly endpoint: string;
  readonly spiffeId: string;
  private readonly channel: grpc.Client;
  private stream: grpc.ClientDuplexStream<EncodedDelivery[], AckBatch__Output> | undefined;
  private outbox: EncodedDelivery[] = [];
  private flushing = false;
  /** Whether the channel was ever seen READY. */
  private readonly seen = { connected: false };

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

  /** Queues a delivery; the outbox is written at the end of this turn of the event loop. */
  send(delivery: EncodedDelivery): void {
    this.outbox.push(delivery);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** Cancels the stream, reports what it carried as lost, and closes the channel. */
  close(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.broken('the subscriber left the mesh');
    this.channel.close();
  }

  private flush(): void {
    this.flushing = false;
    const stream = this.stream ?? this.open();
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, MAX_BATCH);
      stream.write(batch);
    }
  }

  private open(): grpc.ClientDuplexStream<EncodedDelivery[], AckBatch__Output> {
    // Requests are written with the publisher's own serializer: each event is encoded once, not per delivery.
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    const stream = this.channel.makeBidiStreamRequest(
      method.path,
      serializeDeliveryBatch,
      method.responseDeserialize,
    );
    this.stream = stream;
    stream.on('data', (batch: AckBatch__Output) => this.handlers.onAcks(batch));
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
    if (existing && existing.leadsTo(record)) return existing;
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
