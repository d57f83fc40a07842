import forge from 'node-forge';
import { randomBytes } from 'node:crypto';
import {
  CertificateAuthority,
  type Clock,
  type LeafOptions,
} from '../../src/identity/certificate-authority.js';
import type { IdentityMaterial } from '../../src/identity/certs-dir.js';
import { generateRsaKeyPair } from '../../src/identity/keys.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';

/** A CA made at test start, with what a test needs to mint identities from it. */
export interface TestCa {
  ca: CertificateAuthority;
  caKeyPem: string;
  /** Issues `name` (entitled to {@link conventionalType} unless `options.types` says) and returns its material. */
  material(name: string, options?: LeafOptions): Promise<IdentityMaterial>;
  /** Issues `name` as {@link TestCa.material} does and wraps it as a MeshIdentity. */
  identity(name: string, options?: LeafOptions): Promise<MeshIdentity>;
}

/**
 * The agent type a test identity is entitled to unless the test says otherwise: its name without a trailing
 * instance number (`echo-1` is an `echo`). Tests that register another type issue the identity with it.
 */
export function conventionalType(name: string): string {
  return name.replace(/-\d+$/, '');
}

/** Creates a fresh CA for a trust domain (default `agentmesh.local`). */
export async function createTestCa(trustDomain = 'agentmesh.local', clock?: Clock): Promise<TestCa> {
  const { ca, privateKeyPem } = await CertificateAuthority.create({
    trustDomain,
    ...(clock ? { clock } : {}),
  });
  const material = async (name: string, options?: LeafOptions): Promise<IdentityMaterial> => {
    const issued = await ca.issue(name, { types: [conventionalType(name)], ...options });
    return {
      certificatePem: issued.certificatePem,
      privateKeyPem: issued.privateKeyPem,
      trustBundlePem: ca.trustBundle.pem,
    };
  };
  return {
    ca,
    caKeyPem: privateKeyPem,
    material,
    identity: async (name, options) => new MeshIdentity(await material(name, options)),
  };
}

/** What a hand-made certificate should say; used to build the malformed identities our CA refuses to issue. */
export interface CustomCertificate {
  uris: string[];
  isCa?: boolean;
  /**
   * `standard`: digitalSignature, critical (the default for a leaf). `missing`: no keyUsage extension.
   * `not-critical`: digitalSignature, not critical. `hidden-cert-sign`: digitalSignature, keyCertSign and cRLSign
   * encoded with zero unused bits, a form that a careless BIT STRING parser misreads.
   */
  keyUsage?: 'standard' | 'missing' | 'not-critical' | 'hidden-cert-sign';
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Signs a certificate with the test CA's key exactly as described, bypassing every rule of our CertificateAuthority.
 * It exists to prove that peers refuse what a misbehaving or compromised issuer could produce; the material it
 * returns does not pass MeshIdentity's own checks, so tests hand it to grpc-js directly.
 */
export async function forgeCertificate(testCa: TestCa, spec: CustomCertificate): Promise<IdentityMaterial> {
  const keys = await generateRsaKeyPair();
  const caCert = forge.pki.certificateFromPem(testCa.ca.certificatePem);
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  certificate.serialNumber = `01${randomBytes(8).toString('hex')}`;
  certificate.validity.notBefore = spec.notBefore ?? new Date(Date.now() - 60_000);
  certificate.validity.notAfter = spec.notAfter ?? new Date(Date.now() + 3_600_000);
  certificate.setSubject([{ name: 'commonName', value: 'forged' }]);
  certificate.setIssuer(caCert.subject.attributes);
  const keyUsage = {
    standard: [{ name: 'keyUsage', digitalSignature: true, critical: true }],
    missing: [],
    'not-critical': [{ name: 'keyUsage', digitalSignature: true, critical: false }],
    'hidden-cert-sign': [
      {
        name: 'keyUsage',
        critical: true,
        value: forge.asn1.create(
          forge.asn1.Class.UNIVERSAL,
          forge.asn1.Type.BITSTRING,
          false,
          '\x00\x86\x00',
        ),
      },
    ],
  }[spec.keyUsage ?? 'standard'];
  certificate.setExtensions([
    { name: 'basicConstraints', cA: spec.isCa ?? false, critical: true },
    ...(spec.isCa
      ? [{ name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }]
      : keyUsage),
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    { name: 'subjectAltName', altNames: spec.uris.map((value) => ({ type: 6, value })) },
  ]);
  certificate.sign(forge.pki.privateKeyFromPem(testCa.caKeyPem), forge.md.sha256.create());
  return {
    certificatePem: forge.pki.certificateToPem(certificate),
    privateKeyPem: keys.privateKeyPem,
    trustBundlePem: testCa.ca.trustBundle.pem,
  };
}
