// Original file: proto/agentmesh/v1/control_plane.proto

import type { Snapshot as _agentmesh_v1_Snapshot, Snapshot__Output as _agentmesh_v1_Snapshot__Output } from '../../agentmesh/v1/Snapshot.js';
import type { AgentChange as _agentmesh_v1_AgentChange, AgentChange__Output as _agentmesh_v1_AgentChange__Output } from '../../agentmesh/v1/AgentChange.js';
import type { Progress as _agentmesh_v1_Progress, Progress__Output as _agentmesh_v1_Progress__Output } from '../../agentmesh/v1/Progress.js';
import type { PolicySet as _agentmesh_v1_PolicySet, PolicySet__Output as _agentmesh_v1_PolicySet__Output } from '../../agentmesh/v1/PolicySet.js';
import type { AgentLoad as _agentmesh_v1_AgentLoad, AgentLoad__Output as _agentmesh_v1_AgentLoad__Output } from '../../agentmesh/v1/AgentLoad.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One message of a watch stream.
 */
export interface WatchEvent {
  /**
   * The store revision this message brings the client to. A client resumes by passing the last one it saw.
   */
  'revision'?: (number | string | Long);
  /**
   * The full registry at `revision`; replaces whatever the client held.
   */
  'snapshot'?: (_agentmesh_v1_Snapshot | null);
  /**
   * One agent was added, changed or removed.
   */
  'agent'?: (_agentmesh_v1_AgentChange | null);
  /**
   * Sent periodically when nothing changed, so that clients can tell a quiet stream from a dead one.
   */
  'progress'?: (_agentmesh_v1_Progress | null);
  /**
   * The authorization policies changed; replaces the previous set.
   */
  'policies'?: (_agentmesh_v1_PolicySet | null);
  /**
   * One agent reported a new load: only the load changed, so only the load travels.
   */
  'load'?: (_agentmesh_v1_AgentLoad | null);
  'kind'?: "snapshot"|"agent"|"progress"|"policies"|"load";
}

/**
 * One message of a watch stream.
 */
export interface WatchEvent__Output {
  /**
   * The store revision this message brings the client to. A client resumes by passing the last one it saw.
   */
  'revision': (number);
  /**
   * The full registry at `revision`; replaces whatever the client held.
   */
  'snapshot'?: (_agentmesh_v1_Snapshot__Output | null);
  /**
   * One agent was added, changed or removed.
   */
  'agent'?: (_agentmesh_v1_AgentChange__Output | null);
  /**
   * Sent periodically when nothing changed, so that clients can tell a quiet stream from a dead one.
   */
  'progress'?: (_agentmesh_v1_Progress__Output | null);
  /**
   * The authorization policies changed; replaces the previous set.
   */
  'policies'?: (_agentmesh_v1_PolicySet__Output | null);
  /**
   * One agent reported a new load: only the load changed, so only the load travels.
   */
  'load'?: (_agentmesh_v1_AgentLoad__Output | null);
  'kind'?: "snapshot"|"agent"|"progress"|"policies"|"load";
}
