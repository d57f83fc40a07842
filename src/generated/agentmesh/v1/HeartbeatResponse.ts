// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatResponse {
  /**
   * The new end of the lease.
   */
  'leaseExpiresAtUnixMs'?: (number | string | Long);
}

export interface HeartbeatResponse__Output {
  /**
   * The new end of the lease.
   */
  'leaseExpiresAtUnixMs': (number);
}
