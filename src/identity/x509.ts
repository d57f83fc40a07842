import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { Code, MeshError } from '../errors.js';

/**
 * Reading X.509 certificates without trusting string formats: subject alternative names and key usage come from
 * walking the DER with node-forge's ASN.1 parser (which, unlike its certificate parser, is not limited to RSA
 * keys), never from splitting Node's SAN display string (CVE-2021-44532).
 */

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_KEY_USAGE = '2.5.29.15';
const { Class, Type } = forge.asn1;

/** Subject alternative names by kind. */
export interface SubjectAltNames {
  uris: string[];
  dnsNames: string[];
  ipAddresses: string[];
}

/** The keyUsage extension, when the certificate has one. */
export interface KeyUsage {
  critical: boolean;
  digitalSignature: boolean;
  keyEncipherment: boolean;
  keyCertSign: boolean;
  cRLSign: boolean;
}

/** What the mesh reads from a certificate to decide whether it is a valid X.509-SVID. */
export interface CertificateFacts {
  x509: X509Certificate;
  altNames: SubjectAltNames;
  keyUsage: KeyUsage | undefined;
}

interface Extension {
  critical: boolean;
  value: forge.asn1.Asn1;
}

/**
 * node-forge's DER parser, strict, and without its habit of trying to decode a BIT STRING's contents as ASN.1
 * (which turns some keyUsage encodings into something else). Its type definitions only know the boolean form.
 */
function fromDer(bytes: string | forge.util.ByteStringBuffer): forge.asn1.Asn1 {
  const options = { strict: true, decodeBitStrings: false } as unknown as boolean;
  return forge.asn1.fromDer(bytes, options);
}

function children(node: forge.asn1.Asn1): forge.asn1.Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

function readExtensions(der: Buffer): Map<string, Extension> {
  const certificate = fromDer(forge.util.createBuffer(der.toString('binary')));
  const tbs = children(certificate)[0];
  if (!tbs) throw new Error('no tbsCertificate');
  const extensions = new Map<string, Extension>();
  const wrapper = children(tbs).find((node) => node.tagClass === Class.CONTEXT_SPECIFIC && node.type === 3);
  if (!wrapper) return extensions;
  for (const extension of children(children(wrapper)[0] ?? wrapper)) {
    const [oidNode, second, third] = children(extension);
    if (!oidNode || oidNode.type !== Type.OID) continue;
    const critical = second?.type === Type.BOOLEAN ? (second.value as string) !== '\x00' : false;
    const octets = second?.type === Type.OCTETSTRING ? second : third;
    if (!octets || typeof octets.value !== 'string') continue;
    const oid = forge.asn1.derToOid(oidNode.value as string);
    extensions.set(oid, { critical, value: fromDer(octets.value) });
  }
  return extensions;
}

function readAltNames(extension: Extension | undefined): SubjectAltNames {
  const names: SubjectAltNames = { uris: [], dnsNames: [], ipAddresses: [] };
  if (!extension) return names;
  for (const name of children(extension.value)) {
    if (name.tagClass !== Class.CONTEXT_SPECIFIC || typeof name.value !== 'string') continue;
    if (name.type === 6) names.uris.push(forge.util.decodeUtf8(name.value));
    else if (name.type === 2) names.dnsNames.push(name.value);
    else if (name.type === 7) names.ipAddresses.push(bytesToIp(name.value));
  }
  return names;
}

/** node-forge has `util.bytesToIP` at run time, but its type definitions leave it out. */
function bytesToIp(bytes: string): string {
  const util = forge.util as unknown as { bytesToIP(bytes: string): string | null };
  return util.bytesToIP(bytes) ?? '';
}

function readKeyUsage(extension: Extension | undefined): KeyUsage | undefined {
  if (!extension || typeof extension.value.value !== 'string') return undefined;
  // A BIT STRING: one byte of unused-bit count, then the bits, most significant first (bit 0 = 0x80).
  const first = extension.value.value.charCodeAt(1) || 0;
  return {
    critical: extension.critical,
    digitalSignature: (first & 0x80) !== 0,
    keyEncipherment: (first & 0x20) !== 0,
    keyCertSign: (first & 0x04) !== 0,
    cRLSign: (first & 0x02) !== 0,
  };
}

/**
 * Parses a certificate (DER bytes or PEM text) and reads its SANs and key usage.
 * @throws MeshError INVALID_ARGUMENT when the input is not a parseable X.509 certificate.
 */
export function readCertificate(input: Buffer | string): CertificateFacts {
  try {
    const x509 = new X509Certificate(input);
    const extensions = readExtensions(x509.raw);
    return {
      x509,
      altNames: readAltNames(extensions.get(OID_SUBJECT_ALT_NAME)),
      keyUsage: readKeyUsage(extensions.get(OID_KEY_USAGE)),
    };
  } catch (error) {
    throw new MeshError(Code.INVALID_ARGUMENT, `not a valid X.509 certificate: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A distinguished name from Node's X509Certificate (one attribute per line) on one line: `O=a, CN=b`. */
export function formatName(name: string): string {
  return name.split('\n').join(', ');
}

/** Splits PEM text into its certificate blocks, in order. */
export function splitPemCertificates(pem: string): string[] {
  return (
    pem
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
      ?.map((block) => `${block}\n`) ?? []
  );
}
