import { createPublicKey } from 'node:crypto';
import { isIP, isIPv6 } from 'node:net';
import type { CertificateAuthority, SignedCertificate } from '../identity/certificate-authority.js';
import { createCertificateRequest, MIN_CERT_TTL_MS } from '../identity/certificate-authority.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import { readCertificate } from '../identity/x509.js';
import { CONTROL_PLANE_NAME, type SpiffeId } from '../core/spiffe-id.js';

/**
 * What the control plane's own certificate carries besides its SPIFFE ID, kept through every renewal: the DNS and
 * IP SANs and the agent types.
 */
export interface OwnCertificateFields {
  dnsNames: string[];
  ipAddresses: string[];
  types: string[];
}

/** A DNS name the CA accepts as a SAN (the same rule as `agent-mesh ca issue --dns`, without wildcards). */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** One spelling per address, so that `::1` and `0:0:0:0:0:0:0:1` compare equal. */
function canonicalIp(address: string): string {
  return isIPv6(address) ? new URL(`http://[${address}]`).hostname.slice(1, -1) : address;
}

/**
 * The SAN that a client dialling `listen` (`host:port`) checks, for clients that verify host names rather than
 * SPIFFE IDs: grpcio, whose check reads only DNS and IP SANs, dials `127.0.0.1:7400` and wants 127.0.0.1 in the
 * certificate. Nothing for the unspecified addresses (`0.0.0.0`, `::`): clients dial some other name then, which
 * only the operator knows (`agent-mesh ca issue control-plane --ip/--dns`), nor for a name the CA would refuse.
 */
export function listenAltNames(listen: string): Pick<OwnCertificateFields, 'dnsNames' | 'ipAddresses'> {
  const host = listen
    .slice(0, Math.max(0, listen.lastIndexOf(':')))
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (isIP(host) !== 0) {
    const ip = canonicalIp(host);
    return { dnsNames: [], ipAddresses: ip === '0.0.0.0' || ip === '::' ? [] : [ip] };
  }
  return { dnsNames: DNS_NAME.test(host) ? [host] : [], ipAddresses: [] };
}

/**
 * The fields the control plane's certificate should have: those of `certificatePem` (what the operator issued,
 * e.g. with `--ip`) plus the SAN of its listen address; and whether `certificatePem` lacks any of them.
 */
export function ownCertificateFields(
  certificatePem: string,
  listen: string,
): { fields: OwnCertificateFields; missing: boolean } {
  const facts = readCertificate(certificatePem);
  const has = {
    dnsNames: facts.altNames.dnsNames.map((name) => name.toLowerCase()),
    ipAddresses: facts.altNames.ipAddresses.map(canonicalIp),
  };
  const wanted = listenAltNames(listen);
  const missing =
    wanted.dnsNames.some((name) => !has.dnsNames.includes(name)) ||
    wanted.ipAddresses.some((ip) => !has.ipAddresses.includes(ip));
  return {
    fields: {
      dnsNames: [...new Set([...has.dnsNames, ...wanted.dnsNames])],
      ipAddresses: [...new Set([...has.ipAddresses, ...wanted.ipAddresses])],
      types: [...facts.agentTypes],
    },
    missing,
  };
}

/**
 * The control plane's certificate signed again with `fields`, over its own key and with the same end of validity:
 * what it serves with when the certificate it was started with lacks the SAN of its listen address (the files on
 * disk stay as they are). Undefined when the certificate ends too soon to be signed again: its renewal is close and
 * carries the fields anyway.
 */
export function resignOwnCertificate(
  authority: CertificateAuthority,
  spiffeId: SpiffeId,
  material: IdentityMaterial,
  expiresAt: number,
  fields: OwnCertificateFields,
  now = Date.now(),
): SignedCertificate | undefined {
  const ttlMs = Math.floor(expiresAt - now);
  if (ttlMs < MIN_CERT_TTL_MS) return undefined;
  const publicKeyPem = createPublicKey(material.privateKeyPem).export({ type: 'spki', format: 'pem' });
  const request = createCertificateRequest(spiffeId, material.privateKeyPem, publicKeyPem.toString());
  return authority.signRequest(request, CONTROL_PLANE_NAME, { ...fields, ttlMs });
}
