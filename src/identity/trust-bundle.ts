import type { X509Certificate } from 'node:crypto';
import { Code, MeshError, fail, ok, type Result } from '../errors.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';
import { verifySvid } from './svid.js';
import { formatName, readCertificate, splitPemCertificates, type CertificateFacts } from './x509.js';

/**
 * The set of root certificates an identity trusts. It may hold several roots, so that a root can be rotated
 * without downtime: during the overlap the bundle carries the old and the new root. Each root carries the SPIFFE
 * ID of its trust domain (`spiffe://<trust-domain>`) as its URI SAN.
 */
export class TrustBundle {
  private constructor(
    /** The roots, each parsed. */
    readonly roots: readonly X509Certificate[],
    /** Trust domains the roots speak for. */
    readonly trustDomains: ReadonlySet<string>,
    /** The bundle as PEM, every root concatenated: what TLS is given. */
    readonly pem: string,
  ) {}

  /**
   * Parses a bundle of one or more PEM root certificates.
   * @throws MeshError INVALID_ARGUMENT when there is no certificate, a root is not a CA, or a root names no trust domain.
   */
  static fromPem(pem: string): TrustBundle {
    const blocks = splitPemCertificates(pem);
    if (blocks.length === 0) {
      throw new MeshError(Code.INVALID_ARGUMENT, 'trust bundle holds no PEM certificate');
    }
    const roots: X509Certificate[] = [];
    const trustDomains = new Set<string>();
    for (const block of blocks) {
      const facts = readCertificate(block);
      if (!facts.x509.ca) {
        throw new MeshError(
          Code.INVALID_ARGUMENT,
          `trust bundle entry "${formatName(facts.x509.subject)}" is not a CA certificate`,
        );
      }
      const domain = rootTrustDomain(facts);
      if (!domain.ok) throw domain.error;
      trustDomains.add(domain.value.trustDomain);
      roots.push(facts.x509);
    }
    return new TrustBundle(roots, trustDomains, blocks.join(''));
  }

  /**
   * Verifies a leaf certificate the way a peer would, and says why it fails: it must be signed by one of the
   * roots, valid at `now`, and a valid X.509-SVID in a trusted trust domain.
   */
  verify(
    certificate: Buffer | string,
    now: number = Date.now(),
  ): Result<{ spiffeId: SpiffeId; facts: CertificateFacts }> {
    let facts: CertificateFacts;
    try {
      facts = readCertificate(certificate);
    } catch (error) {
      return { ok: false, error: MeshError.from(error) };
    }
    const { x509 } = facts;
    const issuer = this.roots.find((root) => x509.checkIssued(root));
    if (!issuer) {
      return fail(
        Code.UNAUTHENTICATED,
        `certificate was not issued by a trusted CA: its issuer is "${formatName(x509.issuer)}", the bundle holds ${this.roots
          .map((root) => `"${formatName(root.subject)}"`)
          .join(', ')}`,
      );
    }
    if (!x509.verify(issuer.publicKey)) {
      return fail(
        Code.UNAUTHENTICATED,
        `certificate signature does not verify with the key of "${formatName(issuer.subject)}"`,
      );
    }
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    if (now < notBefore) {
      return fail(
        Code.UNAUTHENTICATED,
        `certificate is not valid yet: valid from ${new Date(notBefore).toISOString()}`,
      );
    }
    if (now > notAfter) {
      return fail(Code.UNAUTHENTICATED, `certificate expired at ${new Date(notAfter).toISOString()}`);
    }
    const spiffeId = verifySvid(facts, this.trustDomains);
    if (!spiffeId.ok) return spiffeId;
    return ok({ spiffeId: spiffeId.value, facts });
  }
}

/** Reads the trust domain a root CA certificate speaks for, from its `spiffe://<trust-domain>` URI SAN. */
export function rootTrustDomain(facts: CertificateFacts): Result<SpiffeId> {
  const uri = facts.altNames.uris[0];
  if (facts.altNames.uris.length !== 1 || !uri) {
    return fail(
      Code.INVALID_ARGUMENT,
      `root "${formatName(facts.x509.subject)}" must carry exactly one URI SAN naming its trust domain (spiffe://<trust-domain>)`,
    );
  }
  const id = parseSpiffeId(uri);
  if (!id.ok) return id;
  if (id.value.path !== '') {
    return fail(
      Code.INVALID_ARGUMENT,
      `root "${formatName(facts.x509.subject)}" URI SAN "${uri}" must name a trust domain, not a workload`,
    );
  }
  return id;
}
