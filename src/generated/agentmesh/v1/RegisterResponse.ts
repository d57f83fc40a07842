// Original file: proto/agentmesh/v1/control_plane.proto

import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';
import type { Long } from '@grpc/proto-loader';

export interface RegisterResponse {
  /**
   * The registered record, including its id and revision.
   */
  'agent'?: (_agentmesh_v1_AgentRecord | null);
  /**
   * The lease the control plane granted.
   */
  'leaseTtlMs'?: (number | string | Long);
}

export interface RegisterResponse__Output {
  /**
   * The registered record, including its id and revision.
   */
  'agent': (_agentmesh_v1_AgentRecord__Output | null);
  /**
   * The lease the control plane granted.
   */
  'leaseTtlMs': (number);
}
