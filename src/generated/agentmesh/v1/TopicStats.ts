// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface TopicStats {
  'topic'?: (string);
  'messages'?: (number | string | Long);
}

export interface TopicStats__Output {
  'topic': (string);
  'messages': (number);
}
