// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface SignCertificateRequest {
  /**
   * A PKCS#10 certificate signing request in PEM. Its subject key is the agent's new public key; the URI SAN it
   * asks for, if any, must be the identity being issued.
   */
  'csrPem'?: (string);
  /**
   * A one-time join token from `agent-mesh token create`, for an agent that has no certificate yet. Empty when
   * renewing: the caller's current certificate then decides the identity.
   */
  'joinToken'?: (string);
  /**
   * The certificate lifetime asked for; 0 uses the default. The control plane may shorten it.
   */
  'ttlMs'?: (number | string | Long);
}

export interface SignCertificateRequest__Output {
  /**
   * A PKCS#10 certificate signing request in PEM. Its subject key is the agent's new public key; the URI SAN it
   * asks for, if any, must be the identity being issued.
   */
  'csrPem': (string);
  /**
   * A one-time join token from `agent-mesh token create`, for an agent that has no certificate yet. Empty when
   * renewing: the caller's current certificate then decides the identity.
   */
  'joinToken': (string);
  /**
   * The certificate lifetime asked for; 0 uses the default. The control plane may shorten it.
   */
  'ttlMs': (number);
}
