// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Where a subscription's consumer begins: at a stream sequence or at a time. Neither set: with new events.
 */
export interface SubscriptionStart {
  /**
   * The subscription, by its pattern and group.
   */
  'pattern'?: (string);
  'group'?: (string);
  /**
   * The first stream sequence to deliver (1 is the stream's first event).
   */
  'fromSequence'?: (number | string | Long);
  /**
   * The first event to deliver is the first stored at or after this time.
   */
  'fromUnixMs'?: (number | string | Long);
}

/**
 * Where a subscription's consumer begins: at a stream sequence or at a time. Neither set: with new events.
 */
export interface SubscriptionStart__Output {
  /**
   * The subscription, by its pattern and group.
   */
  'pattern': (string);
  'group': (string);
  /**
   * The first stream sequence to deliver (1 is the stream's first event).
   */
  'fromSequence': (number);
  /**
   * The first event to deliver is the first stored at or after this time.
   */
  'fromUnixMs': (number);
}
