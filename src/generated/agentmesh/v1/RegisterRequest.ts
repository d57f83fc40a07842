// Original file: proto/agentmesh/v1/control_plane.proto

import type { AgentSpec as _agentmesh_v1_AgentSpec, AgentSpec__Output as _agentmesh_v1_AgentSpec__Output } from '../../agentmesh/v1/AgentSpec.js';
import type { Long } from '@grpc/proto-loader';

export interface RegisterRequest {
  /**
   * The agent to register; `spec.name` must be the caller's own name.
   */
  'spec'?: (_agentmesh_v1_AgentSpec | null);
  /**
   * The lease the agent asks for: it must heartbeat more often than this. 0 uses the control plane's default;
   * the control plane may clamp it to its configured bounds.
   */
  'leaseTtlMs'?: (number | string | Long);
}

export interface RegisterRequest__Output {
  /**
   * The agent to register; `spec.name` must be the caller's own name.
   */
  'spec': (_agentmesh_v1_AgentSpec__Output | null);
  /**
   * The lease the agent asks for: it must heartbeat more often than this. 0 uses the control plane's default;
   * the control plane may clamp it to its configured bounds.
   */
  'leaseTtlMs': (number);
}
