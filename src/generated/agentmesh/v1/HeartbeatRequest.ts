// Original file: proto/agentmesh/v1/control_plane.proto

import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from '../../agentmesh/v1/LoadReport.js';
import type { CallReport as _agentmesh_v1_CallReport, CallReport__Output as _agentmesh_v1_CallReport__Output } from '../../agentmesh/v1/CallReport.js';

export interface HeartbeatRequest {
  /**
   * The id from RegisterResponse.
   */
  'agentId'?: (string);
  /**
   * Current load, for load-aware balancing.
   */
  'load'?: (_agentmesh_v1_LoadReport | null);
  /**
   * True to stop receiving new calls while in-flight work finishes (graceful drain). Once set, it stays set
   * until the agent deregisters or registers again.
   */
  'draining'?: (boolean);
  /**
   * The calls this agent made to other agents since its previous heartbeat, one entry per callee instance and
   * method: the control plane's view of who calls whom (dashboard topology). At most 256 entries.
   */
  'calls'?: (_agentmesh_v1_CallReport)[];
}

export interface HeartbeatRequest__Output {
  /**
   * The id from RegisterResponse.
   */
  'agentId': (string);
  /**
   * Current load, for load-aware balancing.
   */
  'load': (_agentmesh_v1_LoadReport__Output | null);
  /**
   * True to stop receiving new calls while in-flight work finishes (graceful drain). Once set, it stays set
   * until the agent deregisters or registers again.
   */
  'draining': (boolean);
  /**
   * The calls this agent made to other agents since its previous heartbeat, one entry per callee instance and
   * method: the control plane's view of who calls whom (dashboard topology). At most 256 entries.
   */
  'calls': (_agentmesh_v1_CallReport__Output)[];
}
