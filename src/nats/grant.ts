/** Where a new consumer begins (see `SubscriptionStart` in control_plane.proto): a sequence or a time. */
export interface ConsumerStart {
  pattern: string;
  group: string;
  fromSequence?: number;
  /** ms since the epoch. */
  fromTime?: number;
}

/** What the control plane tells an identity about the event store (`GetEventStoreResponse`, JetStream mode). */
export interface EventStoreGrant {
  servers: string[];
  serverIdentity: string;
  userJwt: string;
  expiresAt: number;
  inboxPrefix: string;
  stream: string;
  subjectPrefix: string;
  consumers: Array<{ pattern: string; group: string; consumer: string }>;
  maxDeliveries: number;
  ackWaitMs: number;
}
