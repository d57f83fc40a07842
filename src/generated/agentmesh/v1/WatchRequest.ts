// Original file: proto/agentmesh/v1/control_plane.proto

import type { WatchScope as _agentmesh_v1_WatchScope, WatchScope__Output as _agentmesh_v1_WatchScope__Output } from '../../agentmesh/v1/WatchScope.js';
import type { Long } from '@grpc/proto-loader';

export interface WatchRequest {
  /**
   * 0 for a fresh snapshot. Otherwise the last revision the client saw: the stream starts with every change after
   * it, or with a snapshot when those changes are no longer kept. A client resumes only with the scope it had.
   */
  'sinceRevision'?: (number | string | Long);
  /**
   * The agents the watcher needs. Unset: every agent, the whole registry (what clients before scopes received).
   */
  'scope'?: (_agentmesh_v1_WatchScope | null);
  /**
   * Set by clients that assemble a snapshot from several messages (Snapshot.more): the control plane then sends a
   * large snapshot in bounded pieces instead of one message that could exceed the receiver's message size limit.
   */
  'chunkedSnapshots'?: (boolean);
}

export interface WatchRequest__Output {
  /**
   * 0 for a fresh snapshot. Otherwise the last revision the client saw: the stream starts with every change after
   * it, or with a snapshot when those changes are no longer kept. A client resumes only with the scope it had.
   */
  'sinceRevision': (number);
  /**
   * The agents the watcher needs. Unset: every agent, the whole registry (what clients before scopes received).
   */
  'scope': (_agentmesh_v1_WatchScope__Output | null);
  /**
   * Set by clients that assemble a snapshot from several messages (Snapshot.more): the control plane then sends a
   * large snapshot in bounded pieces instead of one message that could exceed the receiver's message size limit.
   */
  'chunkedSnapshots': (boolean);
}
