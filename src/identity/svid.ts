import { Code, fail, ok, type Result } from '../errors.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';
import type { CertificateFacts } from './x509.js';

/**
 * Checks the X.509-SVID rules that a TLS stack does not: exactly one URI SAN holding a valid SPIFFE ID of
 * `trustDomain` (the trust domain of the root that signed the certificate: a root vouches only for its own
 * trust domain), a leaf that is not a CA, and a critical keyUsage that allows digitalSignature but not
 * keyCertSign or cRLSign. Chain and validity are checked elsewhere: by TLS for peers, by
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
  if (facts.x509.ca) return refuse('it is a CA certificate (basicConstraints cA=true), not a leaf');
  const usage = facts.keyUsage;
  if (!usage || !usage.critical || !usage.digitalSignature || usage.keyCertSign || usage.cRLSign) {
    return refuse('it needs a critical keyUsage with digitalSignature and without keyCertSign or cRLSign');
  }
  return ok(id.value);
}
