import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { Code, fail, ok, quote, type Result } from '../core/errors.js';
import { validateEntitledTypes } from '../core/agent-types.js';
import { validateIdentityName } from '../core/spiffe-id.js';
import type { TrustBundle } from './trust-bundle.js';

const PREFIX = 'amjt1';
const MAX_TOKEN_LENGTH = 4096;

/** What a join token grants: one certificate for `name`, entitled to `types`, once, before `expiresAt`. */
export interface JoinTokenClaims {
  trustDomain: string;
  name: string;
  /** The agent types the certificate will entitle the agent to register as. */
  types: string[];
  /** Unique token id: the control plane records it when the token is used, so it works only once. */
  jti: string;
  expiresAt: number;
}

/**
 * Creates a join token: the claims, signed with the CA's private key (RSA SHA-256), as
 * `amjt1.<claims>.<signature>` in base64url. Whoever holds the CA key can mint one, like any identity; the token
 * itself carries no key and lets its holder obtain exactly one certificate for `name`.
 */
export function signJoinToken(
  caKey: KeyObject,
  claims: Omit<JoinTokenClaims, 'jti' | 'types'> & { jti?: string; types?: string[] },
): { token: string; claims: JoinTokenClaims } {
  const full: JoinTokenClaims = {
    ...claims,
    types: claims.types ?? [],
    jti: claims.jti ?? randomBytes(16).toString('hex'),
  };
  const payload = Buffer.from(
    JSON.stringify({
      td: full.trustDomain,
      name: full.name,
      ty: full.types,
      jti: full.jti,
      exp: full.expiresAt,
    }),
  );
  const signature = sign('sha256', Buffer.from(`${PREFIX}.${payload.toString('base64url')}`), caKey);
  return {
    token: `${PREFIX}.${payload.toString('base64url')}.${signature.toString('base64url')}`,
    claims: full,
  };
}

/**
 * Checks a join token's form, trust domain (it must be `trustDomain`, the CA's own), signature (by a root of that
 * trust domain in the bundle, so tokens survive a root rotation but another domain's CA cannot mint them) and
 * expiry. Whether it was already used is the caller's to check, with `claims.jti`.
 * Returns UNAUTHENTICATED naming what is wrong.
 */
export function verifyJoinToken(
  token: string,
  bundle: TrustBundle,
  trustDomain: string,
  now: number,
): Result<JoinTokenClaims> {
  const refuse = (why: string) => fail(Code.UNAUTHENTICATED, `join token refused: ${why}`);
  const parts = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
  if (parts.length !== 3 || parts[0] !== PREFIX) {
    return refuse(
      'it is not an agent-mesh join token (create one with `agent-mesh token create --name <agent>`)',
    );
  }
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2]!, 'base64url');
  const signers = bundle.rootsOf(trustDomain);
  if (!signers.some((root) => verify('sha256', signed, root.publicKey, signature))) {
    return refuse(`its signature is not from a root of trust domain "${trustDomain}"`);
  }
  let raw: { td?: unknown; name?: unknown; ty?: unknown; jti?: unknown; exp?: unknown };
  try {
    raw = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return refuse('its claims are unreadable');
  }
  if (
    typeof raw.td !== 'string' ||
    typeof raw.name !== 'string' ||
    typeof raw.jti !== 'string' ||
    typeof raw.exp !== 'number'
  ) {
    return refuse('its claims are incomplete');
  }
  // A token from before entitlements carries no types: its certificate entitles the agent to none.
  const types = validateEntitledTypes(
    Array.isArray(raw.ty) && raw.ty.every((type) => typeof type === 'string')
      ? raw.ty
      : raw.ty === undefined
        ? []
        : [''],
  );
  if (!types.ok) return refuse(`its agent types are invalid: ${types.error.message}`);
  if (raw.td !== trustDomain) return refuse(`it is for trust domain ${quote(raw.td)}, not "${trustDomain}"`);
  if (!validateIdentityName(raw.name).ok) return refuse(`it names an invalid agent ${quote(raw.name)}`);
  if (now > raw.exp) return refuse(`it expired at ${new Date(raw.exp).toISOString()}`);
  return ok({ trustDomain: raw.td, name: raw.name, types: types.value, jti: raw.jti, expiresAt: raw.exp });
}
