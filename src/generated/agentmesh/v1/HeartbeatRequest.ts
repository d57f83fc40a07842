// Original file: proto/agentmesh/v1/control_plane.proto

import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from '../../agentmesh/v1/LoadReport.js';

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
}
