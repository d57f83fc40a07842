// Original file: proto/agentmesh/v1/control_plane.proto

import type { TopicStats as _agentmesh_v1_TopicStats, TopicStats__Output as _agentmesh_v1_TopicStats__Output } from '../../agentmesh/v1/TopicStats.js';
import type { ConsumerStats as _agentmesh_v1_ConsumerStats, ConsumerStats__Output as _agentmesh_v1_ConsumerStats__Output } from '../../agentmesh/v1/ConsumerStats.js';
import type { Long } from '@grpc/proto-loader';

export interface DescribeEventsResponse {
  /**
   * The stream: events kept, bytes, first and last sequence, replicas, and the cluster's leader for it.
   */
  'stream'?: (string);
  'messages'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  'firstSequence'?: (number | string | Long);
  'lastSequence'?: (number | string | Long);
  'replicas'?: (number);
  'leader'?: (string);
  /**
   * Events kept per topic (over every publisher), dead-letter topics included.
   */
  'topics'?: (_agentmesh_v1_TopicStats)[];
  /**
   * One per subscription (or queue group) that has a consumer.
   */
  'consumers'?: (_agentmesh_v1_ConsumerStats)[];
}

export interface DescribeEventsResponse__Output {
  /**
   * The stream: events kept, bytes, first and last sequence, replicas, and the cluster's leader for it.
   */
  'stream': (string);
  'messages': (number);
  'bytes': (number);
  'firstSequence': (number);
  'lastSequence': (number);
  'replicas': (number);
  'leader': (string);
  /**
   * Events kept per topic (over every publisher), dead-letter topics included.
   */
  'topics': (_agentmesh_v1_TopicStats__Output)[];
  /**
   * One per subscription (or queue group) that has a consumer.
   */
  'consumers': (_agentmesh_v1_ConsumerStats__Output)[];
}
