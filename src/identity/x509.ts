import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { Code, MeshError } from '../core/errors.js';

/**
 * Reading X.509 certificates without trusting string formats: subject alternative names and key usage come from
 * walking the DER with node-forge's ASN.1 parser (which, unlike its certificate parser, is not limited to RSA
 * keys), never from splitting Node's SAN display string (CVE-2021-44532).
 */

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_ORGANIZATIONAL_UNIT = '2.5.4.11';
/**
 * How a certificate records an agent type its identity is entitled to: one subject organizationalUnitName per
 * type, `agent-type:<type>` (as Kubernetes reads groups from a client certificate's organization).
 */
export const AGENT_TYPE_PREFIX = 'agent-type:';
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
  /**
   * Whether basicConstraints says cA=TRUE, read from the extension itself: Node's `X509Certificate.ca` is false
   * for a CA certificate whose keyUsage lacks keyCertSign.
   */
  basicConstraintsCa: boolean;
  /** The OID of the algorithm the issuer signed the certificate with. */
  signatureAlgorithm: string;
  /**
   * The agent types the CA entitled this identity to (subject `OU=agent-type:<type>`, see
   * {@link AGENT_TYPE_PREFIX}); empty for a certificate issued before entitlements, or by another CA.
   */
  agentTypes: readonly string[];
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

interface Parsed {
  extensions: Map<string, Extension>;
  signatureAlgorithm: string;
  agentTypes: string[];
}

function read(der: Buffer): Parsed {
  const certificate = fromDer(forge.util.createBuffer(der.toString('binary')));
  const [tbs, algorithm] = children(certificate);
  if (!tbs) throw new Error('no tbsCertificate');
  const algorithmOid = children(algorithm ?? certificate)[0];
  const signatureAlgorithm =
    algorithmOid?.type === Type.OID ? forge.asn1.derToOid(algorithmOid.value as string) : '';
  const fields = children(tbs);
  // version [0] is optional; then serialNumber, signature, issuer, validity, subject.
  const subject = fields[fields[0]?.tagClass === Class.CONTEXT_SPECIFIC ? 5 : 4];
  const agentTypes = subject ? readAgentTypes(subject) : [];
  const extensions = new Map<string, Extension>();
  const parsed = { extensions, signatureAlgorithm, agentTypes };
  const wrapper = fields.find((node) => node.tagClass === Class.CONTEXT_SPECIFIC && node.type === 3);
  if (!wrapper) return parsed;
  for (const extension of children(children(wrapper)[0] ?? wrapper)) {
    const [oidNode, second, third] = children(extension);
    if (!oidNode || oidNode.type !== Type.OID) continue;
    const critical = second?.type === Type.BOOLEAN ? (second.value as string) !== '\x00' : false;
    const octets = second?.type === Type.OCTETSTRING ? second : third;
    if (!octets || typeof octets.value !== 'string') continue;
    const oid = forge.asn1.derToOid(oidNode.value as string);
    if (extensions.has(oid)) throw new Error(`extension ${oid} appears twice`); // RFC 5280 4.2
    extensions.set(oid, { critical, value: fromDer(octets.value) });
  }
  return parsed;
}

/** basicConstraints is `SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL }`. */
function readBasicConstraintsCa(extension: Extension | undefined): boolean {
  const first = extension ? children(extension.value)[0] : undefined;
  return first?.type === Type.BOOLEAN && (first.value as string) !== '\x00';
}

/** The `agent-type:<type>` organizationalUnitName values of a Name (a SEQUENCE of SETs of attributes). */
function readAgentTypes(name: forge.asn1.Asn1): string[] {
  const types: string[] = [];
  for (const attribute of children(name).flatMap(children)) {
    const [oid, value] = children(attribute);
    if (oid?.type !== Type.OID || typeof value?.value !== 'string') continue;
    if (forge.asn1.derToOid(oid.value as string) !== OID_ORGANIZATIONAL_UNIT) continue;
    const text = value.type === Type.UTF8 ? forge.util.decodeUtf8(value.value) : value.value;
    if (text.startsWith(AGENT_TYPE_PREFIX)) types.push(text.slice(AGENT_TYPE_PREFIX.length));
  }
  return types;
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
    const { extensions, signatureAlgorithm, agentTypes } = read(x509.raw);
    return {
      x509,
      altNames: readAltNames(extensions.get(OID_SUBJECT_ALT_NAME)),
      keyUsage: readKeyUsage(extensions.get(OID_KEY_USAGE)),
      basicConstraintsCa: readBasicConstraintsCa(extensions.get(OID_BASIC_CONSTRAINTS)),
      signatureAlgorithm,
      agentTypes,
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
