import forge from 'node-forge';
import { Code, MeshError, quote } from '../core/errors.js';
import type { SpiffeId } from '../core/spiffe-id.js';

/**
 * Reads a PKCS#10 request that asks for `spiffeId`, and returns the key it carries. The request must be well
 * formed, carry an RSA key of 2048 to 4096 bits with exponent 65537, be signed with SHA-256 or stronger by that key
 * (proof that the requester holds it), and ask for no URI SAN other than `spiffeId`. Nothing else it asks for is
 * read: the CA decides the rest.
 * @throws MeshError INVALID_ARGUMENT for a malformed request, PERMISSION_DENIED for one naming another identity.
 */
export function readCertificateRequest(csrPem: string, spiffeId: SpiffeId): forge.pki.rsa.PublicKey {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `malformed certificate signing request (a PEM PKCS#10 request with an RSA key is required): ${(error as Error).message}`,
      { cause: error },
    );
  }
  // Checked before the signature: node-forge verifies in JavaScript, and a huge key or exponent would stall the
  // event loop for seconds.
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  const bits = key?.n?.bitLength() ?? 0;
  if (!key || bits < 2048 || bits > 4096 || key.e.toString() !== '65537') {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `certificate signing request key refused: use an RSA key of 2048 to 4096 bits with exponent 65537 (got ${bits} bits)`,
    );
  }
  const digest = CSR_SIGNATURES.get(csr.signatureOid ?? '');
  if (!digest) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      'certificate signing request refused: sign it with SHA-256 or stronger (sha256WithRSAEncryption)',
    );
  }
  if (!verifiesItself(csr)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      'certificate signing request signature does not verify: it must be signed with the private key of the key it carries',
    );
  }
  const requested = requestedUris(csr);
  const other = requested.find((uri) => uri !== spiffeId.uri);
  if (other !== undefined) {
    throw new MeshError(
      Code.PERMISSION_DENIED,
      `certificate signing request asks for ${quote(other)}, but the requester may only obtain ${quote(spiffeId.uri)}`,
    );
  }
  return csr.publicKey as forge.pki.rsa.PublicKey;
}

/** Signature algorithms of certificate requests the CA accepts: RSA PKCS#1 v1.5 with SHA-256 or stronger. */
const CSR_SIGNATURES = new Map([
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
]);

function verifiesItself(csr: forge.pki.CertificateSigningRequest): boolean {
  try {
    return csr.verify();
  } catch {
    return false; // node-forge throws, rather than returning false, for some bad signatures
  }
}

function requestedUris(csr: forge.pki.CertificateSigningRequest): string[] {
  const extensionRequest = csr.getAttribute({ name: 'extensionRequest' }) as {
    extensions?: Array<{ name?: string; altNames?: Array<{ type: number; value: string }> }>;
  } | null;
  const altNames = extensionRequest?.extensions?.find(
    (extension) => extension.name === 'subjectAltName',
  )?.altNames;
  return (altNames ?? []).filter((name) => name.type === 6).map((name) => name.value);
}

/**
 * Creates a PKCS#10 certificate signing request for `spiffeId` with the given key pair, as an agent does before
 * asking the control plane for a certificate: only this request travels, the private key stays with the agent.
 */
export function createCertificateRequest(
  spiffeId: SpiffeId,
  privateKeyPem: string,
  publicKeyPem: string,
): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: spiffeId.path.split('/').pop() || spiffeId.trustDomain }]);
  csr.setAttributes([
    {
      name: 'extensionRequest',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId.uri }] }],
    },
  ]);
  csr.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
