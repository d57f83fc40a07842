import { Code, fail, ok, type Result } from '../errors.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';
import type { CertificateFacts } from './x509.js';

/**
 * Checks the X.509-SVID rules that a TLS stack does not: exactly one URI SAN holding a valid SPIFFE ID in the
 * expected trust domain, a leaf that is not a CA, and (when the certificate has a keyUsage extension) a key usage
 * that allows signing but not certificate or CRL signing. Chain and validity checks are the caller's (TLS does
 * them for peers; {@link TrustBundle.verify} for files).
 */
export function verifySvid(facts: CertificateFacts, trustDomains: ReadonlySet<string>): Result<SpiffeId> {
  const refuse = (why: string) => fail(Code.UNAUTHENTICATED, `certificate is not a valid X.509-SVID: ${why}`);
  const { uris } = facts.altNames;
  if (uris.length !== 1) {
    return refuse(`it has ${uris.length} URI SANs; an SVID has exactly one spiffe:// URI SAN`);
  }
  const id = parseSpiffeId(uris[0]!);
  if (!id.ok) return refuse(id.error.message);
  if (!trustDomains.has(id.value.trustDomain)) {
    return refuse(
      `its trust domain "${id.value.trustDomain}" is not trusted here (trusted: ${[...trustDomains].join(', ')})`,
    );
  }
  if (id.value.path === '') return refuse(`"${id.value.uri}" names a trust domain, not a workload`);
  if (facts.x509.ca) return refuse('it is a CA certificate (basicConstraints cA=true), not a leaf');
  const usage = facts.keyUsage;
  if (usage && (!usage.digitalSignature || usage.keyCertSign || usage.cRLSign)) {
    return refuse('its keyUsage must include digitalSignature and exclude keyCertSign and cRLSign');
  }
  return ok(id.value);
}
