// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface ControlPlaneInfo {
  /**
   * The agent-mesh version the control plane runs, e.g. "0.1.0".
   */
  'version'?: (string);
  /**
   * The replica's clock when it answered, for clock-skew checks.
   */
  'nowUnixMs'?: (number | string | Long);
  /**
   * The trust domain of the mesh's identities, e.g. "agentmesh.local".
   */
  'trustDomain'?: (string);
  /**
   * The registry's store: "memory" (one process) or "etcd".
   */
  'storeKind'?: (string);
  /**
   * Whether what is stored outlives the control-plane process.
   */
  'storeDurable'?: (boolean);
  /**
   * Whether a read of the store succeeded while answering; `store_error` says why not.
   */
  'storeOk'?: (boolean);
  'storeError'?: (string);
  /**
   * Agents in the registry, healthy or not.
   */
  'agents'?: (number);
  /**
   * When the replica's own serving certificate expires.
   */
  'certificateExpiresAtUnixMs'?: (number | string | Long);
}

export interface ControlPlaneInfo__Output {
  /**
   * The agent-mesh version the control plane runs, e.g. "0.1.0".
   */
  'version': (string);
  /**
   * The replica's clock when it answered, for clock-skew checks.
   */
  'nowUnixMs': (number);
  /**
   * The trust domain of the mesh's identities, e.g. "agentmesh.local".
   */
  'trustDomain': (string);
  /**
   * The registry's store: "memory" (one process) or "etcd".
   */
  'storeKind': (string);
  /**
   * Whether what is stored outlives the control-plane process.
   */
  'storeDurable': (boolean);
  /**
   * Whether a read of the store succeeded while answering; `store_error` says why not.
   */
  'storeOk': (boolean);
  'storeError': (string);
  /**
   * Agents in the registry, healthy or not.
   */
  'agents': (number);
  /**
   * When the replica's own serving certificate expires.
   */
  'certificateExpiresAtUnixMs': (number);
}
