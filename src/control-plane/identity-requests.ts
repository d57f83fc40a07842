import { identitySpiffeId, CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import { createCertificateRequest } from '../identity/certificate-authority.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import { generateRsaKeyPair } from '../identity/keys.js';
import { TrustBundle } from '../identity/trust-bundle.js';
import {
  CONTROL_PLANE_CHANNEL_OPTIONS,
  createBootstrapChannelCredentials,
} from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import { parseControlPlaneAddresses } from './addresses.js';
import type { ControlPlaneClient } from './client.js';
import { acrossReplicas } from './replica-set.js';

/** Options for {@link joinMesh}. */
export interface JoinOptions {
  /** `host:port` of the control plane, or several replicas (`cp-a:7400,cp-b:7400`, or a list). */
  address: string | readonly string[];
  /** The mesh's trust bundle (its CA certificate), obtained out of band: it is public. */
  trustBundlePem: string;
  /** The one-time token from `agent-mesh token create --name <agent>`. */
  token: string;
  /** The agent's name; must be the one the token was made for. */
  name: string;
  ttlMs?: number;
  timeoutMs?: number;
}

/**
 * Obtains a first identity with a join token: generates a key pair here, sends only a CSR to the control plane
 * (checking that the server is the control plane of the bundle's trust domain), and returns the signed certificate
 * with the key. The private key never leaves this process.
 */
export async function joinMesh(options: JoinOptions): Promise<IdentityMaterial> {
  const bundle = TrustBundle.fromPem(options.trustBundlePem);
  const [trustDomain] = [...bundle.trustDomains];
  const spiffeId = identitySpiffeId(trustDomain!, options.name);
  const keys = await generateRsaKeyPair();
  const csrPem = createCertificateRequest(spiffeId, keys.privateKeyPem, keys.publicKeyPem);
  const addresses = parseControlPlaneAddresses(options.address);
  if (!addresses.ok) throw addresses.error;
  const { protos } = loadMeshProtos();
  const credentials = createBootstrapChannelCredentials(
    bundle,
    identitySpiffeId(trustDomain!, CONTROL_PLANE_NAME).uri,
  );
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let next = 0;
  const response = await acrossReplicas(addresses.value.length, deadline, async (attemptDeadline) => {
    const stub = new protos.agentmesh.v1.ControlPlane(
      addresses.value[next++]!,
      credentials,
      CONTROL_PLANE_CHANNEL_OPTIONS,
    );
    try {
      return await new Promise<{ certificatePem: string; trustBundlePem: string[] }>((resolve, reject) =>
        stub.SignCertificate(
          { csrPem, joinToken: options.token, ttlMs: options.ttlMs ?? 0 },
          { deadline: attemptDeadline },
          (error, value) => (error || !value ? reject(fromServiceError(error)) : resolve(value)),
        ),
      );
    } finally {
      stub.close();
    }
  });
  return {
    certificatePem: response.certificatePem,
    privateKeyPem: keys.privateKeyPem,
    trustBundlePem: response.trustBundlePem.join(''),
  };
}

/**
 * Renews `identity` through the control plane: a new key pair, a CSR authenticated by the current certificate,
 * and the new certificate and trust bundle put into force for new connections.
 */
export async function renewIdentity(
  client: ControlPlaneClient,
  identity: MeshIdentity,
  ttlMs = 0,
): Promise<IdentityMaterial> {
  const keys = await generateRsaKeyPair();
  const csrPem = createCertificateRequest(identity.spiffeId, keys.privateKeyPem, keys.publicKeyPem);
  const signed = await client.signCertificate(csrPem, ttlMs);
  const material = {
    certificatePem: signed.certificatePem,
    privateKeyPem: keys.privateKeyPem,
    trustBundlePem: signed.trustBundlePem,
  };
  identity.update(material);
  return material;
}
