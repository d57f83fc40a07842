// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface SignCertificateResponse {
  /**
   * The new leaf certificate in PEM.
   */
  'certificatePem'?: (string);
  /**
   * The SPIFFE ID the certificate carries.
   */
  'spiffeId'?: (string);
  /**
   * The roots the agent must trust (more than one while a root is being rotated), each in PEM.
   */
  'trustBundlePem'?: (string)[];
  /**
   * When the certificate expires.
   */
  'expiresAtUnixMs'?: (number | string | Long);
}

export interface SignCertificateResponse__Output {
  /**
   * The new leaf certificate in PEM.
   */
  'certificatePem': (string);
  /**
   * The SPIFFE ID the certificate carries.
   */
  'spiffeId': (string);
  /**
   * The roots the agent must trust (more than one while a root is being rotated), each in PEM.
   */
  'trustBundlePem': (string)[];
  /**
   * When the certificate expires.
   */
  'expiresAtUnixMs': (number);
}
