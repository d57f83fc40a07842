import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, createCertificateRequest } from '../../src/identity/certificate-authority.js';
import { generateRsaKeyPair } from '../../src/identity/keys.js';
import { identitySpiffeId } from '../../src/core/spiffe-id.js';
import { readCertificate } from '../../src/identity/x509.js';
import { TrustBundle } from '../../src/identity/trust-bundle.js';
import { createTestCa, forgeCertificate, type TestCa } from '../helpers/test-ca.js';

describe('certificate authority', () => {
  let testCa: TestCa;

  beforeAll(async () => {
    testCa = await createTestCa();
  });

  it('creates a root that names its trust domain and may sign certificates', () => {
    const { x509, altNames, keyUsage } = readCertificate(testCa.ca.certificatePem);
    expect(x509.ca).toBe(true);
    expect(altNames.uris).toEqual(['spiffe://agentmesh.local']);
    expect(keyUsage).toMatchObject({ critical: true, keyCertSign: true, cRLSign: true });
    expect(x509.checkIssued(x509)).toBe(true);
    expect(testCa.ca.trustDomain).toBe('agentmesh.local');
  });

  it('issues an X.509-SVID that follows the SPIFFE rules', async () => {
    const issued = await testCa.ca.issue('summarizer-1', {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    expect(issued.spiffeId.uri).toBe('spiffe://agentmesh.local/agent/summarizer-1');
    const { x509, altNames, keyUsage } = readCertificate(issued.certificatePem);
    expect(altNames).toEqual({
      uris: ['spiffe://agentmesh.local/agent/summarizer-1'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    expect(x509.ca).toBe(false);
    expect(keyUsage).toEqual({
      critical: true,
      digitalSignature: true,
      keyEncipherment: false,
      keyCertSign: false,
      cRLSign: false,
    });
    expect(x509.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));

    const forgeCert = forge.pki.certificateFromPem(issued.certificatePem);
    expect(forge.pki.oids[forgeCert.siginfo.algorithmOid]).toBe('sha256WithRSAEncryption');
    const root = forge.pki.certificateFromPem(testCa.ca.certificatePem);
    const rootKeyId = (root.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string })
      .subjectKeyIdentifier;
    const leafKeyId = (forgeCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string })
      .subjectKeyIdentifier;
    const authorityKeyId = forgeCert.getExtension('authorityKeyIdentifier') as { value: string };
    // The AKI extension wraps the issuer's key id: SEQUENCE { [0] keyIdentifier }.
    const akiBytes = forge.asn1.fromDer(authorityKeyId.value).value as forge.asn1.Asn1[];
    expect(forge.util.bytesToHex(akiBytes[0]!.value as string)).toBe(rootKeyId);
    expect(leafKeyId).not.toBe(rootKeyId);
    expect(leafKeyId).toBe(forge.pki.getPublicKeyFingerprint(forgeCert.publicKey, { encoding: 'hex' }));

    expect(x509.checkIssued(new X509Certificate(testCa.ca.certificatePem))).toBe(true);
    expect(testCa.ca.trustBundle.verify(issued.certificatePem).ok).toBe(true);
  });

  it('issues the control plane its own ID', async () => {
    const issued = await testCa.ca.issue('control-plane');
    expect(issued.spiffeId.uri).toBe('spiffe://agentmesh.local/control-plane');
  });

  it('never issues beyond its own expiry', async () => {
    const { ca } = await CertificateAuthority.create({ trustDomain: 'short.local', ttlMs: 3_600_000 });
    const issued = await ca.issue('a', { ttlMs: 48 * 3_600_000 });
    expect(issued.notAfter.getTime()).toBe(ca.notAfter.getTime());
  });

  it.each([
    ['an invalid name', () => testCa.ca.issue('../x'), /invalid name/],
    ['an empty name', () => testCa.ca.issue(''), /name is empty/],
    ['a bad TTL', () => testCa.ca.issue('a', { ttlMs: -5 }), /at least 5000ms/],
    [
      'a TTL beyond 100 years',
      () => testCa.ca.issue('a', { ttlMs: 101 * 365 * 86_400_000 }),
      /at most 100 years/,
    ],
    ['an IP with a zone id', () => testCa.ca.issue('a', { ipAddresses: ['fe80::1%eth0'] }), /no zone id/],
    [
      'an IPv4-mapped IPv6 address',
      () => testCa.ca.issue('a', { ipAddresses: ['::ffff:1.2.3.4'] }),
      /no embedded IPv4/,
    ],
    ['a bad DNS name', () => testCa.ca.issue('a', { dnsNames: ['not a host'] }), /invalid DNS name/],
    ['a bad IP address', () => testCa.ca.issue('a', { ipAddresses: ['300.1.1.1'] }), /invalid IP address/],
  ])('refuses %s', async (_what, issue, message) => {
    await expect(issue()).rejects.toThrow(message);
  });

  it('generates keys off the event loop', async () => {
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    await CertificateAuthority.create({ trustDomain: 'busy.local' });
    spinning = false;
    // A 3072-bit key takes far longer than one loop turn; a blocking generator would allow at most one.
    expect(turns).toBeGreaterThan(5);
  });

  describe('signing certificate requests', () => {
    it('signs a CSR for the identity it names, with the key the agent kept', async () => {
      const keys = await generateRsaKeyPair();
      const csr = createCertificateRequest(
        identitySpiffeId('agentmesh.local', 'joiner'),
        keys.privateKeyPem,
        keys.publicKeyPem,
      );
      const signed = testCa.ca.signRequest(csr, 'joiner', { ttlMs: 3_600_000 });
      expect(signed.spiffeId.uri).toBe('spiffe://agentmesh.local/agent/joiner');
      const x509 = new X509Certificate(signed.certificatePem);
      expect(x509.publicKey.export({ type: 'spki', format: 'pem' })).toBe(keys.publicKeyPem);
      expect(testCa.ca.trustBundle.verify(signed.certificatePem).ok).toBe(true);
    });

    it('refuses a CSR that asks for another identity', async () => {
      const keys = await generateRsaKeyPair();
      const csr = createCertificateRequest(
        identitySpiffeId('agentmesh.local', 'admin'),
        keys.privateKeyPem,
        keys.publicKeyPem,
      );
      expect(() => testCa.ca.signRequest(csr, 'joiner')).toThrow(
        expect.objectContaining({
          code: 7,
          message: expect.stringMatching(/asks for "spiffe:\/\/agentmesh.local\/agent\/admin"/),
        }),
      );
    });

    it('refuses a malformed CSR', () => {
      expect(() =>
        testCa.ca.signRequest(
          '-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----',
          'joiner',
        ),
      ).toThrow(
        expect.objectContaining({
          code: 3,
          message: expect.stringMatching(/malformed certificate signing request/),
        }),
      );
    });

    it('refuses a CSR whose signature does not match its key', async () => {
      const keys = await generateRsaKeyPair();
      const other = await generateRsaKeyPair();
      // Claims one key but is signed with another: the requester cannot prove it holds the claimed key.
      const csr = forge.pki.createCertificationRequest();
      csr.publicKey = forge.pki.publicKeyFromPem(other.publicKeyPem);
      csr.setSubject([{ name: 'commonName', value: 'joiner' }]);
      csr.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
      expect(() => testCa.ca.signRequest(forge.pki.certificationRequestToPem(csr), 'joiner')).toThrow(
        /does not verify/,
      );
    });
  });

  describe('trust bundle verification', () => {
    it('explains why a certificate fails', async () => {
      const other = await createTestCa();
      const foreign = await other.ca.issue('a');
      const stranger = testCa.ca.trustBundle.verify(foreign.certificatePem);
      expect(stranger.ok).toBe(false);
      if (!stranger.ok) expect(stranger.error.message).toMatch(/not issued by a trusted CA/);

      const expired = await forgeCertificate(testCa, {
        uris: ['spiffe://agentmesh.local/agent/a'],
        notBefore: new Date(Date.now() - 7_200_000),
        notAfter: new Date(Date.now() - 3_600_000),
      });
      const late = testCa.ca.trustBundle.verify(expired.certificatePem);
      if (!late.ok) expect(late.error.message).toMatch(/expired at/);
      expect(late.ok).toBe(false);

      const issued = await testCa.ca.issue('a');
      const early = testCa.ca.trustBundle.verify(issued.certificatePem, Date.now() - 3_600_000);
      if (!early.ok) expect(early.error.message).toMatch(/not valid yet/);
      expect(early.ok).toBe(false);
    });

    it('trusts every root of a bundle that holds two', async () => {
      const next = await createTestCa();
      const bundle = TrustBundle.fromPem(testCa.ca.certificatePem + next.ca.certificatePem);
      expect(bundle.roots).toHaveLength(2);
      expect(bundle.verify((await testCa.ca.issue('old')).certificatePem).ok).toBe(true);
      expect(bundle.verify((await next.ca.issue('new')).certificatePem).ok).toBe(true);
    });
  });
});
