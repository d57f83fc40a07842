// Original file: proto/agentmesh/v1/control_plane.proto

import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from '../../agentmesh/v1/LoadReport.js';

export interface AgentLoad {
  /**
   * The agent whose load changed.
   */
  'agentId'?: (string);
  'load'?: (_agentmesh_v1_LoadReport | null);
}

export interface AgentLoad__Output {
  /**
   * The agent whose load changed.
   */
  'agentId': (string);
  'load': (_agentmesh_v1_LoadReport__Output | null);
}
