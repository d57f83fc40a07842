import { Code, fail, ok, type Result } from '../core/errors.js';
import { parseSpiffeId, type SpiffeId } from '../core/spiffe-id.js';
import type { CertificateFacts } from './x509.js';

/** Smallest RSA key the mesh accepts from anyone: what the CA demands of a certificate request. */
export const MIN_RSA_KEY_BITS = 2048;

/** Signature algorithms a certificate may be signed with: SHA-256 or stronger, RSA PKCS#1 v1.5, ECDSA or EdDSA. */
const SIGNATURE_ALGORITHMS = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
  ['1.3.101.112', 'Ed25519'],
]);
const WEAK_SIGNATURE_ALGORITHMS = new Map([
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.113549.1.1.14', 'sha224WithRSAEncryption'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10045.4.3.1', 'ecdsa-with-SHA224'],
]);
/** EC curves of at least 128-bit strength, by the names Node gives them. */
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/**
 * Checks a certificate's key and signature: RSA of at least {@link MIN_RSA_KEY_BITS} bits, EC on P-256 or
 * stronger, or Ed25519; signed with SHA-256 or stronger. Returns why not, or undefined.
 */
export function weakCryptography(facts: CertificateFacts): string | undefined {
  const key = facts.x509.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      if ((details.modulusLength ?? 0) < MIN_RSA_KEY_BITS) {
        return `its RSA key has ${details.modulusLength ?? 0} bits; at least ${MIN_RSA_KEY_BITS} are required`;
      }
      break;
    case 'ec':
      if (!EC_CURVES.has(details.namedCurve ?? '')) {
        return `its EC key is on curve ${details.namedCurve ?? 'unknown'}; P-256, P-384 or P-521 are required`;
      }
      break;
    case 'ed25519':
      break;
    default:
      return `its ${key.asymmetricKeyType ?? 'unknown'} key is not accepted: use RSA (2048 bits or more), EC P-256 or Ed25519`;
  }
  const algorithm = facts.signatureAlgorithm;
  if (!SIGNATURE_ALGORITHMS.has(algorithm)) {
    const weak = WEAK_SIGNATURE_ALGORITHMS.get(algorithm);
    return weak
      ? `it is signed with ${weak}; SHA-256 or stronger is required`
      : `it is signed with an algorithm the mesh does not accept (${algorithm || 'none'}); use SHA-256 or stronger with RSA, ECDSA or Ed25519`;
  }
  return undefined;
}

/**
 * Checks the X.509-SVID rules that a TLS stack does not: exactly one URI SAN holding a valid SPIFFE ID of
 * `trustDomain` (the trust domain of the root that signed the certificate: a root vouches only for its own
 * trust domain), a leaf that is not a CA (basicConstraints read from the certificate itself, whatever its
 * keyUsage says), a critical keyUsage that allows digitalSignature but not keyCertSign or cRLSign, and no weak
 * cryptography ({@link weakCryptography}). Chain and validity are checked elsewhere: by TLS for peers, by
 * {@link TrustBundle.verify} for files.
 */
export function verifySvid(facts: CertificateFacts, trustDomain: string): Result<SpiffeId> {
  const refuse = (why: string) => fail(Code.UNAUTHENTICATED, `certificate is not a valid X.509-SVID: ${why}`);
  const { uris } = facts.altNames;
  if (uris.length !== 1) {
    return refuse(`it has ${uris.length} URI SANs; an SVID has exactly one spiffe:// URI SAN`);
  }
  const id = parseSpiffeId(uris[0]!);
  if (!id.ok) return refuse(id.error.message);
  if (id.value.trustDomain !== trustDomain) {
    return refuse(
      `its trust domain "${id.value.trustDomain}" is not trusted here: the root that signed it speaks for "${trustDomain}"`,
    );
  }
  if (id.value.path === '') return refuse(`"${id.value.uri}" names a trust domain, not a workload`);
  if (facts.basicConstraintsCa || facts.x509.ca) {
    return refuse('it is a CA certificate (basicConstraints cA=TRUE), not a leaf');
  }
  const usage = facts.keyUsage;
  if (!usage || !usage.critical || !usage.digitalSignature || usage.keyCertSign || usage.cRLSign) {
    return refuse('it needs a critical keyUsage with digitalSignature and without keyCertSign or cRLSign');
  }
  const weak = weakCryptography(facts);
  if (weak) return refuse(weak);
  return ok(id.value);
}
