// Original file: proto/agentmesh/v1/control_plane.proto

import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';
import type { PolicySet as _agentmesh_v1_PolicySet, PolicySet__Output as _agentmesh_v1_PolicySet__Output } from '../../agentmesh/v1/PolicySet.js';

export interface Snapshot {
  /**
   * Every registered agent, healthy or not.
   */
  'agents'?: (_agentmesh_v1_AgentRecord)[];
  /**
   * The authorization policies in force.
   */
  'policies'?: (_agentmesh_v1_PolicySet | null);
  /**
   * True while the control plane is still hearing from the agents after it started with an empty store (an
   * in-memory control plane that restarted): agents missing from the snapshot may only not have registered again
   * yet. A client keeps what it knew besides the snapshot's agents until a snapshot arrives with `partial` false,
   * which the control plane sends to every watcher when the time is up.
   */
  'partial'?: (boolean);
  /**
   * More pieces of this snapshot follow (only to a watcher that asked for chunked_snapshots): the watcher keeps the
   * agents of each piece and applies the whole when a piece with `more` false arrives. Every piece carries the same
   * revision, policies and partial flag.
   */
  'more'?: (boolean);
}

export interface Snapshot__Output {
  /**
   * Every registered agent, healthy or not.
   */
  'agents': (_agentmesh_v1_AgentRecord__Output)[];
  /**
   * The authorization policies in force.
   */
  'policies': (_agentmesh_v1_PolicySet__Output | null);
  /**
   * True while the control plane is still hearing from the agents after it started with an empty store (an
   * in-memory control plane that restarted): agents missing from the snapshot may only not have registered again
   * yet. A client keeps what it knew besides the snapshot's agents until a snapshot arrives with `partial` false,
   * which the control plane sends to every watcher when the time is up.
   */
  'partial': (boolean);
  /**
   * More pieces of this snapshot follow (only to a watcher that asked for chunked_snapshots): the watcher keeps the
   * agents of each piece and applies the whole when a piece with `more` false arrives. Every piece carries the same
   * revision, policies and partial flag.
   */
  'more': (boolean);
}
