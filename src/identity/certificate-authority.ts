import { isIPv4, isIPv6 } from 'node:net';
import { constants, createPrivateKey, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { Code, MeshError, unwrap, quote } from '../core/errors.js';
import { signJoinToken, type JoinTokenClaims } from './join-token.js';
import { validateEntitledTypes } from '../core/agent-types.js';
import { generateRsaKeyPair } from './keys.js';
import {
  identitySpiffeId,
  trustDomainSpiffeId,
  validateIdentityName,
  type SpiffeId,
} from '../core/spiffe-id.js';
import { TrustBundle, rootTrustDomain } from './trust-bundle.js';
import { AGENT_TYPE_PREFIX, readCertificate } from './x509.js';

/** Default lifetime of a root CA: ten years. */
export const DEFAULT_CA_TTL_MS = 87_600 * 3_600_000;
/** Default lifetime of an issued identity: one day, short enough that renewal is routine. */
export const DEFAULT_LEAF_TTL_MS = 24 * 3_600_000;
/** Certificates start this much in the past, so that a peer whose clock is slightly behind accepts them. */
const BACKDATE_MS = 60_000;
const ROOT_KEY_BITS = 3072;
const LEAF_KEY_BITS = 2048;

/** Where the time comes from; tests inject a fixed clock. */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

/** What to put in an identity besides its SPIFFE ID. */
export interface LeafOptions {
  /** Lifetime in milliseconds (default {@link DEFAULT_LEAF_TTL_MS}); capped at the CA's own expiry. */
  ttlMs?: number;
  /** DNS names to add as SANs, for clients that check hostnames. */
  dnsNames?: readonly string[];
  /** IP addresses to add as SANs. */
  ipAddresses?: readonly string[];
  /**
   * The agent types the identity is entitled to register as (and is known by in policies' `callerTypes`),
   * recorded in the certificate's subject (`OU=agent-type:<type>`); at most 16. None by default.
   */
  types?: readonly string[];
}

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

const DNS_NAME =
  /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** DER prefix of a PKCS#1 DigestInfo for SHA-256; the 32-byte digest follows it. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer for node-forge's `sign(key, md)` that does the RSA private-key operation natively: node-forge builds
 * and hashes the to-be-signed bytes, Node signs the PKCS#1 v1.5 DigestInfo. The result is the signature forge
 * would compute itself, many times faster than its JavaScript big-number arithmetic.
 */
function nativeSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  const sign = (md: forge.md.MessageDigest) => {
    const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]);
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
  };
  return { sign } as unknown as forge.pki.rsa.PrivateKey;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive INTEGER
  bytes[0]! |= 0x01; // and no leading zero byte, which DER would have to drop
  return bytes.toString('hex');
}

/** Shortest certificate lifetime: X.509 times have whole seconds, and a shorter one would expire on arrival. */
export const MIN_CERT_TTL_MS = 5_000;
/** Longest lifetime of anything the CA makes: a hundred years. */
export const MAX_TTL_MS = 100 * 365 * 86_400_000;

function checkTtl(ttlMs: number, what: string, minMs = 1): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < minMs) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be at least ${minMs}ms, got ${ttlMs}ms`);
  }
  if (ttlMs > MAX_TTL_MS) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be at most 100 years (876000h), got ${ttlMs}ms`);
  }
}

/** X.509 validity times have whole seconds: round down, so that what we report is what the certificate says. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function altNameEntries(spiffeId: SpiffeId, options: LeafOptions): object[] {
  const entries: object[] = [{ type: 6, value: spiffeId.uri }];
  for (const name of options.dnsNames ?? []) {
    if (!DNS_NAME.test(name)) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid DNS name ${quote(name)}: use a hostname such as agent.example.internal`,
      );
    }
    entries.push({ type: 2, value: name });
  }
  for (const address of options.ipAddresses ?? []) {
    // node-forge encodes plain IPv4 and IPv6 literals only: no zone ids (fe80::1%eth0), no embedded IPv4.
    const plain = isIPv4(address) || (isIPv6(address) && !/[%.]/.test(address));
    if (!plain) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `invalid IP address ${quote(address)}: use a plain IPv4 or IPv6 literal such as 127.0.0.1 or ::1 (no zone id, no embedded IPv4)`,
      );
    }
    entries.push({ type: 7, ip: address });
  }
  return entries;
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
    return this.sign(csr.publicKey as forge.pki.rsa.PublicKey, spiffeId, options);
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
