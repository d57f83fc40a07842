// Original file: proto/agentmesh/v1/types.proto

import type { AgentSpec as _agentmesh_v1_AgentSpec, AgentSpec__Output as _agentmesh_v1_AgentSpec__Output } from '../../agentmesh/v1/AgentSpec.js';
import type { HealthStatus as _agentmesh_v1_HealthStatus, HealthStatus__Output as _agentmesh_v1_HealthStatus__Output } from '../../agentmesh/v1/HealthStatus.js';
import type { LoadReport as _agentmesh_v1_LoadReport, LoadReport__Output as _agentmesh_v1_LoadReport__Output } from '../../agentmesh/v1/LoadReport.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A registered agent as the control plane stores and serves it.
 */
export interface AgentRecord {
  /**
   * The agent's id in the registry; equal to its name.
   */
  'id'?: (string);
  /**
   * What the agent declared at registration.
   */
  'spec'?: (_agentmesh_v1_AgentSpec | null);
  /**
   * The verified SPIFFE ID of the identity that registered the agent.
   */
  'spiffeId'?: (string);
  /**
   * Current health.
   */
  'health'?: (_agentmesh_v1_HealthStatus);
  /**
   * The load from the latest heartbeat.
   */
  'load'?: (_agentmesh_v1_LoadReport | null);
  /**
   * When the agent registered.
   */
  'registeredAtUnixMs'?: (number | string | Long);
  /**
   * When the lease ends unless a heartbeat renews it.
   */
  'leaseExpiresAtUnixMs'?: (number | string | Long);
  /**
   * The store revision of the record's last change.
   */
  'revision'?: (number | string | Long);
  /**
   * The lease's time to live: the agent heartbeats more often than this.
   */
  'leaseTtlMs'?: (number | string | Long);
}

/**
 * A registered agent as the control plane stores and serves it.
 */
export interface AgentRecord__Output {
  /**
   * The agent's id in the registry; equal to its name.
   */
  'id': (string);
  /**
   * What the agent declared at registration.
   */
  'spec': (_agentmesh_v1_AgentSpec__Output | null);
  /**
   * The verified SPIFFE ID of the identity that registered the agent.
   */
  'spiffeId': (string);
  /**
   * Current health.
   */
  'health': (_agentmesh_v1_HealthStatus__Output);
  /**
   * The load from the latest heartbeat.
   */
  'load': (_agentmesh_v1_LoadReport__Output | null);
  /**
   * When the agent registered.
   */
  'registeredAtUnixMs': (number);
  /**
   * When the lease ends unless a heartbeat renews it.
   */
  'leaseExpiresAtUnixMs': (number);
  /**
   * The store revision of the record's last change.
   */
  'revision': (number);
  /**
   * The lease's time to live: the agent heartbeats more often than this.
   */
  'leaseTtlMs': (number);
}
