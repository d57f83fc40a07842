import type { X509Certificate } from 'node:crypto';
import { Code, MeshError, fail, ok, quote, type Result } from '../core/errors.js';
import { parseSpiffeId, type SpiffeId } from '../core/spiffe-id.js';
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
    /** The trust domain of each root, by position. */
    private readonly rootDomains: readonly string[],
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
    const rootDomains: string[] = [];
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
      rootDomains.push(domain.value.trustDomain);
      roots.push(facts.x509);
    }
    return new TrustBundle(roots, rootDomains, trustDomains, blocks.join(''));
  }

  /** The roots that speak for `trustDomain`. */
  rootsOf(trustDomain: string): X509Certificate[] {
    return this.roots.filter((_, index) => this.rootDomains[index] === trustDomain);
  }

  /** The root that signed `certificate` (checked by signature), with the trust domain it speaks for. */
  issuerOf(certificate: X509Certificate): { root: X509Certificate; trustDomain: string } | undefined {
    for (const [index, root] of this.roots.entries()) {
      if (certificate.checkIssued(root) && certificate.verify(root.publicKey)) {
        return { root, trustDomain: this.rootDomains[index]! };
      }
    }
    return undefined;
  }

  /**
   * Checks that a certificate was signed by one of the roots and is a valid X.509-SVID of that root's trust
   * domain. Validity dates are not checked here (TLS has checked them for a peer; see {@link TrustBundle.verify}).
   */
  verifySvid(facts: CertificateFacts): Result<SpiffeId> {
    const issuer = this.issuerOf(facts.x509);
    if (!issuer) {
      return fail(
        Code.UNAUTHENTICATED,
        `certificate was not issued by a trusted CA: its issuer is ${quote(formatName(facts.x509.issuer))}, the bundle holds ${this.roots
          .map((root) => `"${formatName(root.subject)}"`)
          .join(', ')}`,
      );
    }
    return verifySvid(facts, issuer.trustDomain);
  }

  /**
   * Verifies a leaf certificate the way a peer would, and says why it fails: it must be signed by one of the
   * roots, valid at `now`, and a valid X.509-SVID of that root's trust domain.
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
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    const spiffeId = this.verifySvid(facts);
    if (!spiffeId.ok) return spiffeId;
    if (now < notBefore) {
      return fail(
        Code.UNAUTHENTICATED,
        `certificate is not valid yet: valid from ${new Date(notBefore).toISOString()}`,
      );
    }
    if (now > notAfter) {
      return fail(Code.UNAUTHENTICATED, `certificate expired at ${new Date(notAfter).toISOString()}`);
    }
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
