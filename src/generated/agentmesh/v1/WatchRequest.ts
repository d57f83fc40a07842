// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchRequest {
  /**
   * 0 for a fresh snapshot. Otherwise the last revision the client saw: the stream starts with every change after
   * it, or with a snapshot when those changes are no longer kept.
   */
  'sinceRevision'?: (number | string | Long);
}

export interface WatchRequest__Output {
  /**
   * 0 for a fresh snapshot. Otherwise the last revision the client saw: the stream starts with every change after
   * it, or with a snapshot when those changes are no longer kept.
   */
  'sinceRevision': (number);
}
