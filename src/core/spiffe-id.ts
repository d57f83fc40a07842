import { Code, fail, ok, quote, unwrap, type Result } from './errors.js';

const TRUST_DOMAIN = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
/** Longest identity name: it is also the certificate's common name and fits a DNS label (63). */
const MAX_NAME_LENGTH = 63;

/** The name reserved for the control plane's own identity, `spiffe://<trust-domain>/control-plane`. */
export const CONTROL_PLANE_NAME = 'control-plane';

/** A parsed, valid SPIFFE ID: `spiffe://<trustDomain><path>`, where path is empty or starts with `/`. */
export interface SpiffeId {
  readonly trustDomain: string;
  /** The path, e.g. `/agent/summarizer-1`; empty for the trust domain's own ID. */
  readonly path: string;
  /** The full URI. */
  readonly uri: string;
}

/**
 * A peer's SPIFFE ID as its verified certificate proves it, with the agent types the certificate entitles it to:
 * only certificates of this process's own trust domain entitle (another domain's CA cannot make one of its
 * identities one of our types; policies can grant it types by ID).
 */
export interface VerifiedPeer extends SpiffeId {
  readonly agentTypes: readonly string[];
}

/** Checks a trust domain name: lowercase letters, digits, `.`, `-` and `_`; no port, user info or slash. */
export function validateTrustDomain(trustDomain: string): Result<string> {
  if (trustDomain.length === 0) return fail(Code.INVALID_ARGUMENT, 'trust domain is empty');
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) {
    return fail(Code.INVALID_ARGUMENT, `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  }
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid trust domain ${quote(trustDomain)}: use dot-separated labels of lowercase letters, digits, "-" and "_" (e.g. agentmesh.local)`,
    );
  }
  return ok(trustDomain);
}

/** Checks one SPIFFE path segment: letters, digits, `.`, `-` and `_`, and not `.` or `..`. */
function validateSegment(segment: string, what: string): Result<string> {
  if (segment.length === 0) return fail(Code.INVALID_ARGUMENT, `${what} is empty`);
  if (segment === '.' || segment === '..') {
    return fail(
      Code.INVALID_ARGUMENT,
      `${what} ${quote(segment)} is not allowed: "." and ".." are relative paths`,
    );
  }
  if (!PATH_SEGMENT.test(segment)) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid ${what} ${quote(segment)}: use letters, digits, ".", "-" and "_" only (one SPIFFE path segment)`,
    );
  }
  return ok(segment);
}

/**
 * Checks an agent name, which becomes the last segment of its SPIFFE ID. `control-plane` is accepted here only
 * when `allowControlPlane` is set, since it names the control plane's identity rather than an agent's.
 */
export function validateIdentityName(
  name: string,
  options: { allowControlPlane?: boolean } = {},
): Result<string> {
  if (name.length === 0)
    return fail(Code.INVALID_ARGUMENT, 'name is empty: give the agent a name, e.g. summarizer-1');
  const segment = validateSegment(name, 'name');
  if (!segment.ok) return segment;
  if (name.startsWith('.')) {
    return fail(
      Code.INVALID_ARGUMENT,
      `invalid name ${quote(name)}: it must not start with "." (it would be a hidden file)`,
    );
  }
  if (name.length > MAX_NAME_LENGTH) {
    return fail(
      Code.INVALID_ARGUMENT,
      `name "${name.slice(0, 20)}…" is longer than ${MAX_NAME_LENGTH} characters`,
    );
  }
  if (name === CONTROL_PLANE_NAME && !options.allowControlPlane) {
    return fail(
      Code.INVALID_ARGUMENT,
      `"${CONTROL_PLANE_NAME}" is reserved for the control plane's identity`,
    );
  }
  return ok(name);
}

/** Parses and validates a SPIFFE ID URI according to the SPIFFE-ID specification. */
export function parseSpiffeId(uri: string): Result<SpiffeId> {
  const invalid = (why: string) => fail(Code.INVALID_ARGUMENT, `invalid SPIFFE ID ${quote(uri)}: ${why}`);
  if (uri.length > MAX_ID_LENGTH) return invalid(`longer than ${MAX_ID_LENGTH} characters`);
  if (!uri.startsWith('spiffe://')) return invalid('it must start with "spiffe://"');
  if (/[?#%]/.test(uri)) return invalid('query, fragment and percent-encoding are not allowed');
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  const domain = validateTrustDomain(trustDomain);
  if (!domain.ok) return invalid(domain.error.message);
  if (path !== '') {
    if (path.endsWith('/')) return invalid('a trailing "/" is not allowed');
    for (const segment of path.slice(1).split('/')) {
      const valid = validateSegment(segment, 'path segment');
      if (!valid.ok) return invalid(valid.error.message);
    }
  }
  return ok({ trustDomain, path, uri });
}

/** Like {@link parseSpiffeId}, but throws the MeshError instead of returning it. */
export function spiffeIdFrom(uri: string): SpiffeId {
  return unwrap(parseSpiffeId(uri));
}

/**
 * The SPIFFE ID of an identity named `name` in `trustDomain`: `spiffe://<td>/agent/<name>` for agents and
 * `spiffe://<td>/control-plane` for the control plane.
 * @throws MeshError INVALID_ARGUMENT for an invalid trust domain or name.
 */
export function identitySpiffeId(trustDomain: string, name: string): SpiffeId {
  unwrap(validateTrustDomain(trustDomain));
  unwrap(validateIdentityName(name, { allowControlPlane: true }));
  const path = name === CONTROL_PLANE_NAME ? `/${CONTROL_PLANE_NAME}` : `/agent/${name}`;
  return { trustDomain, path, uri: `spiffe://${trustDomain}${path}` };
}

/** The SPIFFE ID naming a whole trust domain, `spiffe://<td>`; our root CA certificates carry it. */
export function trustDomainSpiffeId(trustDomain: string): SpiffeId {
  unwrap(validateTrustDomain(trustDomain));
  return { trustDomain, path: '', uri: `spiffe://${trustDomain}` };
}

/**
 * The identity name a SPIFFE ID stands for: the agent name of `/agent/<name>`, or `control-plane`; undefined for
 * any other path (a workload from another kind of issuer).
 */
export function identityNameOf(id: SpiffeId): string | undefined {
  if (id.path === `/${CONTROL_PLANE_NAME}`) return CONTROL_PLANE_NAME;
  const match = /^\/agent\/([^/]+)$/.exec(id.path);
  return match?.[1];
}
