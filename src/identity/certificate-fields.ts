/**
 * The fields of the certificates the CA makes, apart from the CA itself: lifetimes and their limits, validity
 * times, serial numbers, subject alternative names, and the native RSA signer.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { constants, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import type forge from 'node-forge';
import { Code, MeshError, quote } from '../core/errors.js';
import type { SpiffeId } from '../core/spiffe-id.js';

/** Default lifetime of an issued identity: one day, short enough that renewal is routine. */
export const DEFAULT_LEAF_TTL_MS = 24 * 3_600_000;

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

/** Certificates start this much in the past, so that a peer whose clock is slightly behind accepts them. */
export const BACKDATE_MS = 60_000;
const DNS_NAME =
  /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** DER prefix of a PKCS#1 DigestInfo for SHA-256; the 32-byte digest follows it. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer for node-forge's `sign(key, md)` that does the RSA private-key operation natively: node-forge builds
 * and hashes the to-be-signed bytes, Node signs the PKCS#1 v1.5 DigestInfo. The result is the signature forge
 * would compute itself, many times faster than its JavaScript big-number arithmetic.
 */
export function nativeSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  const sign = (md: forge.md.MessageDigest) => {
    const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]);
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
  };
  return { sign } as unknown as forge.pki.rsa.PrivateKey;
}

/** A random positive 128-bit serial number, in hex. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive INTEGER
  bytes[0]! |= 0x01; // and no leading zero byte, which DER would have to drop
  return bytes.toString('hex');
}

/** Shortest certificate lifetime: X.509 times have whole seconds, and a shorter one would expire on arrival. */
export const MIN_CERT_TTL_MS = 5_000;
/** Longest lifetime of anything the CA makes: a hundred years. */
export const MAX_TTL_MS = 100 * 365 * 86_400_000;

/**
 * Checks a lifetime in ms: a whole number from `minMs` up to {@link MAX_TTL_MS}.
 * @throws MeshError INVALID_ARGUMENT naming `what` and the limit it broke.
 */
export function checkTtl(ttlMs: number, what: string, minMs = 1): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < minMs) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be at least ${minMs}ms, got ${ttlMs}ms`);
  }
  if (ttlMs > MAX_TTL_MS) {
    throw new MeshError(Code.INVALID_ARGUMENT, `${what} must be at most 100 years (876000h), got ${ttlMs}ms`);
  }
}

/** X.509 validity times have whole seconds: round down, so that what we report is what the certificate says. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/**
 * The subject alternative names of an identity in node-forge's form: its SPIFFE ID first, then the DNS names and IP
 * addresses of `options`.
 * @throws MeshError INVALID_ARGUMENT for a malformed DNS name or IP address.
 */
export function altNameEntries(spiffeId: SpiffeId, options: LeafOptions): object[] {
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
