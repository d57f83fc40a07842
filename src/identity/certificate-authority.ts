import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { Code, MeshError, unwrap } from '../core/errors.js';
import { signJoinToken, type JoinTokenClaims } from './join-token.js';
import { validateEntitledTypes } from '../core/agent-types.js';
import { generateRsaKeyPair } from './keys.js';
import {
  identitySpiffeId,
  trustDomainSpiffeId,
  validateIdentityName,
  type SpiffeId,
} from '../core/spiffe-id.js';
import {
  altNameEntries,
  BACKDATE_MS,
  checkTtl,
  DEFAULT_LEAF_TTL_MS,
  MIN_CERT_TTL_MS,
  nativeSigner,
  randomSerial,
  wholeSeconds,
  type LeafOptions,
} from './certificate-fields.js';
import { readCertificateRequest } from './certificate-request.js';
import { TrustBundle, rootTrustDomain } from './trust-bundle.js';
import { AGENT_TYPE_PREFIX, readCertificate } from './x509.js';

export { DEFAULT_LEAF_TTL_MS, MAX_TTL_MS, MIN_CERT_TTL_MS, type LeafOptions } from './certificate-fields.js';
export { createCertificateRequest } from './certificate-request.js';

/** Default lifetime of a root CA: ten years. */
export const DEFAULT_CA_TTL_MS = 87_600 * 3_600_000;
const ROOT_KEY_BITS = 3072;
const LEAF_KEY_BITS = 2048;

/** Where the time comes from; tests inject a fixed clock. */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

/** A signed certificate for an identity. */
export interface SignedCertificate {
  spiffeId: SpiffeId;
  certificatePem: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** A new identity: its certificate and the private key generated for it. */
export interface IssuedIdentity extends SignedCertificate {
  privateKeyPem: string;
}

/** Options for creating a new root CA. */
export interface CreateCaOptions {
  /** The trust domain, e.g. `agentmesh.local`. */
  trustDomain: string;
  /** Lifetime in milliseconds (default {@link DEFAULT_CA_TTL_MS}). */
  ttlMs?: number;
  clock?: Clock;
}

/**
 * A certificate authority for one trust domain, backed by node-forge. It creates the root, issues identities
 * (generating their keys) and signs certificate requests (for agents that keep their keys to themselves). Every
 * certificate it signs follows the X.509-SVID rules: one `spiffe://` URI SAN, leaf `cA=false`, keyUsage
 * digitalSignature (critical), extended key usage serverAuth and clientAuth, SHA-256, and key identifiers that
 * chain to the root.
 */
export class CertificateAuthority {
  /** The trust domain the CA speaks for. */
  readonly trustDomain: string;
  /** The bundle peers trust: the CA's own root. */
  readonly trustBundle: TrustBundle;
  private readonly certificate: forge.pki.Certificate;
  private readonly signer: forge.pki.rsa.PrivateKey;
  private readonly key: KeyObject;
  private readonly clock: Clock;

  /**
   * Loads a CA from its certificate and private key.
   * @throws MeshError INVALID_ARGUMENT when they are not a matching RSA root CA pair with a trust-domain SAN.
   */
  constructor(
    /** The root certificate, PEM. */
    readonly certificatePem: string,
    privateKeyPem: string,
    options: { clock?: Clock } = {},
  ) {
    const facts = readCertificate(certificatePem);
    if (!facts.x509.ca)
      throw new MeshError(Code.INVALID_ARGUMENT, 'the CA certificate is not a CA (cA=false)');
    this.trustDomain = unwrap(rootTrustDomain(facts)).trustDomain;
    let key: KeyObject;
    try {
      this.certificate = forge.pki.certificateFromPem(certificatePem);
      key = createPrivateKey(privateKeyPem);
    } catch (error) {
      throw new MeshError(Code.INVALID_ARGUMENT, `cannot read the CA key pair: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (key.asymmetricKeyType !== 'rsa' || !facts.x509.checkPrivateKey(key)) {
      throw new MeshError(Code.INVALID_ARGUMENT, 'the CA private key does not match the CA certificate');
    }
    this.key = key;
    this.signer = nativeSigner(key);
    this.trustBundle = TrustBundle.fromPem(certificatePem);
    this.clock = options.clock ?? systemClock;
  }

  /** Creates a new self-signed root CA for a trust domain, with a new 3072-bit RSA key. */
  static async create(
    options: CreateCaOptions,
  ): Promise<{ ca: CertificateAuthority; privateKeyPem: string }> {
    const clock = options.clock ?? systemClock;
    const ttlMs = options.ttlMs ?? DEFAULT_CA_TTL_MS;
    checkTtl(ttlMs, 'CA lifetime', 60_000);
    const domainId = trustDomainSpiffeId(options.trustDomain);
    const keys = await generateRsaKeyPair(ROOT_KEY_BITS);
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    certificate.serialNumber = randomSerial();
    const now = clock.now();
    certificate.validity.notBefore = wholeSeconds(now - BACKDATE_MS);
    certificate.validity.notAfter = wholeSeconds(now + ttlMs);
    const subject = [
      { name: 'organizationName', value: 'agent-mesh' },
      // A short random tag tells roots of one trust domain apart (during a rotation the bundle holds two).
      {
        name: 'commonName',
        value: `agent-mesh root CA ${options.trustDomain.slice(0, 40)} ${randomBytes(4).toString('hex')}`,
      },
    ];
    certificate.setSubject(subject);
    certificate.setIssuer(subject);
    certificate.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
      { name: 'subjectAltName', altNames: [{ type: 6, value: domainId.uri }] },
    ]);
    certificate.sign(nativeSigner(createPrivateKey(keys.privateKeyPem)), forge.md.sha256.create());
    const certificatePem = forge.pki.certificateToPem(certificate);
    return {
      ca: new CertificateAuthority(certificatePem, keys.privateKeyPem, { clock }),
      privateKeyPem: keys.privateKeyPem,
    };
  }

  /** When the root itself expires; no certificate it signs outlives it. */
  get notAfter(): Date {
    return this.certificate.validity.notAfter;
  }

  /**
   * Issues an identity for `name` (an agent name, or `control-plane`), generating its 2048-bit RSA key.
   * @throws MeshError INVALID_ARGUMENT for an invalid name, TTL, DNS name or IP address.
   */
  async issue(name: string, options: LeafOptions = {}): Promise<IssuedIdentity> {
    const spiffeId = this.identityFor(name);
    this.checkLeafOptions(spiffeId, options);
    const keys = await generateRsaKeyPair(LEAF_KEY_BITS);
    const signed = this.sign(forge.pki.publicKeyFromPem(keys.publicKeyPem), spiffeId, options);
    return { ...signed, privateKeyPem: keys.privateKeyPem };
  }

  /**
   * Signs a PKCS#10 request for identity `name`, entitled to `options.types` (what the request itself asks for is
   * never read: the caller decides, from a join token or the certificate being renewed). The request must be well
   * formed, signed with SHA-256 or stronger by the key it carries (proof that the requester holds it), and ask for
   * no URI SAN other than the identity's own SPIFFE ID.
   * @throws MeshError INVALID_ARGUMENT for a malformed request, PERMISSION_DENIED for one naming another identity.
   */
  signRequest(csrPem: string, name: string, options: LeafOptions = {}): SignedCertificate {
    const spiffeId = this.identityFor(name);
    this.checkLeafOptions(spiffeId, options);
    return this.sign(readCertificateRequest(csrPem, spiffeId), spiffeId, options);
  }

  /**
   * Creates a one-time join token for agent `name`, valid for `ttlMs` (default one hour): an agent without a
   * certificate presents it with its CSR to obtain its first one, entitled to `options.types`.
   * @throws MeshError INVALID_ARGUMENT for an invalid name, type or TTL.
   */
  createJoinToken(
    name: string,
    ttlMs = 3_600_000,
    options: { types?: readonly string[] } = {},
  ): { token: string; claims: JoinTokenClaims } {
    unwrap(validateIdentityName(name));
    checkTtl(ttlMs, 'join token lifetime');
    return signJoinToken(this.key, {
      trustDomain: this.trustDomain,
      name,
      types: unwrap(validateEntitledTypes(options.types ?? [])),
      expiresAt: this.clock.now() + ttlMs,
    });
  }

  private identityFor(name: string): SpiffeId {
    unwrap(validateIdentityName(name, { allowControlPlane: true }));
    return identitySpiffeId(this.trustDomain, name);
  }

  private checkLeafOptions(spiffeId: SpiffeId, options: LeafOptions): void {
    checkTtl(options.ttlMs ?? DEFAULT_LEAF_TTL_MS, 'certificate lifetime', MIN_CERT_TTL_MS);
    altNameEntries(spiffeId, options);
    unwrap(validateEntitledTypes(options.types ?? []));
  }

  private sign(publicKey: forge.pki.PublicKey, spiffeId: SpiffeId, options: LeafOptions): SignedCertificate {
    const now = this.clock.now();
    const ttlMs = options.ttlMs ?? DEFAULT_LEAF_TTL_MS;
    const notBefore = wholeSeconds(now - BACKDATE_MS);
    const notAfter = wholeSeconds(Math.min(now + ttlMs, this.notAfter.getTime()));
    if (notAfter.getTime() <= now) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `the CA expired at ${this.notAfter.toISOString()}: rotate the root`,
      );
    }
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = publicKey;
    certificate.serialNumber = randomSerial();
    certificate.validity.notBefore = notBefore;
    certificate.validity.notAfter = notAfter;
    certificate.setSubject([
      { name: 'organizationName', value: 'agent-mesh' },
      ...[...new Set(options.types ?? [])].map((type) => ({
        name: 'organizationalUnitName',
        value: `${AGENT_TYPE_PREFIX}${type}`,
      })),
      { name: 'commonName', value: spiffeId.path.split('/').pop()! },
    ]);
    certificate.setIssuer(this.certificate.subject.attributes);
    const issuerKeyId = this.certificate.generateSubjectKeyIdentifier().getBytes();
    certificate.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: issuerKeyId },
      { name: 'subjectAltName', altNames: altNameEntries(spiffeId, options) },
    ]);
    certificate.sign(this.signer, forge.md.sha256.create());
    return {
      spiffeId,
      certificatePem: forge.pki.certificateToPem(certificate),
      serialNumber: certificate.serialNumber,
      notBefore,
      notAfter,
    };
  }
}
