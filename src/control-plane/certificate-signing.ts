import { Code, MeshError, quote } from '../core/errors.js';
import { isRevoked, revokedRefusal } from '../core/policy.js';
import { identitySpiffeId } from '../core/spiffe-id.js';
import type { SignCertificateRequest__Output } from '../generated/agentmesh/v1/SignCertificateRequest.js';
import type { SignCertificateResponse } from '../generated/agentmesh/v1/SignCertificateResponse.js';
import type { CertificateAuthority } from '../identity/certificate-authority.js';
import { verifyJoinToken } from '../identity/join-token.js';
import type { TrustBundle } from '../identity/trust-bundle.js';
import { splitPemCertificates } from '../identity/x509.js';
import type { Logger } from '../observability/logger.js';
import type { Registrar } from './registrar.js';
import { observeSafely, type ControlPlaneServiceObserver } from './service-observer.js';
import type { ControlPlaneState } from './state.js';

/** Who calls the control plane, as its certificate says: see the registrar's `register`. */
export interface ControlPlaneCaller {
  /** The caller's SPIFFE ID. */
  id: string;
  /** Its identity name when it is of our own trust domain, else undefined. */
  name: string | undefined;
  /** The agent types its certificate entitles it to. */
  agentTypes: readonly string[];
}

/** Options for {@link createCertificateSigner}. */
export interface CertificateSignerOptions {
  state: ControlPlaneState;
  registrar: Registrar;
  /** The CA in force and the bundle it hands out (both may change while running, e.g. in a root rotation). */
  ca: () => { authority: CertificateAuthority; bundle: TrustBundle };
  /** Longest certificate the CA hands out (default 24 h). */
  maxCertificateTtlMs?: number;
  observer?: ControlPlaneServiceObserver;
  logger: Logger;
  clock: { now(): number };
  /** Charges a renewal to the caller's rate; throws the refusal when over it. */
  limitRenewal(callerId: string): void;
}

/**
 * What the control plane's SignCertificate does: signs a CSR for an agent joining with a one-time join token
 * (consumed once signed), or renewing with its current certificate (`caller`, read only then: a joining agent has
 * none). The identity and its entitled types come from the token or the certificate, never from the request.
 */
export function createCertificateSigner(
  options: CertificateSignerOptions,
): (
  request: SignCertificateRequest__Output,
  caller: () => ControlPlaneCaller,
) => Promise<SignCertificateResponse> {
  const { state, registrar, logger, clock } = options;
  const observer = options.observer ?? {};
  const maxCertTtl = options.maxCertificateTtlMs ?? 24 * 3_600_000;
  return async (request, caller) => {
    const { authority: ca, bundle } = options.ca();
    const ttlMs = Math.min(maxCertTtl, Number(request.ttlMs) > 0 ? Number(request.ttlMs) : maxCertTtl);
    let name: string;
    let types: readonly string[];
    let consume: (() => Promise<boolean>) | undefined;
    if (request.joinToken !== '') {
      const claims = verifyJoinToken(request.joinToken, bundle, ca.trustDomain, clock.now());
      if (!claims.ok) throw claims.error;
      name = claims.value.name;
      types = claims.value.types;
      const joining = identitySpiffeId(ca.trustDomain, name).uri;
      if (isRevoked(state.policies, joining)) throw revokedRefusal(joining);
      if (await registrar.joinTokenUsed(claims.value.jti)) throw usedToken();
      consume = () => registrar.consumeJoinToken(claims.value.jti, claims.value.expiresAt);
    } else {
      const who = caller(); // renewal: the current certificate decides the identity
      if (who.name === undefined)
        throw new MeshError(Code.PERMISSION_DENIED, `${quote(who.id)} is not an identity this CA renews`);
      options.limitRenewal(who.id);
      name = who.name;
      types = who.agentTypes;
    }
    const signed = ca.signRequest(request.csrPem, name, { ttlMs, types });
    if (consume && !(await consume())) throw usedToken();
    logger.info(
      { spiffeId: signed.spiffeId.uri, serial: signed.serialNumber, join: consume !== undefined },
      'certificate signed',
    );
    if (observer.certificateSigned) {
      const signedFor = {
        name,
        spiffeId: signed.spiffeId.uri,
        expiresAt: signed.notAfter.getTime(),
        join: consume !== undefined,
      };
      observeSafely(logger, 'certificateSigned', () => observer.certificateSigned!(signedFor));
    }
    return {
      certificatePem: signed.certificatePem,
      spiffeId: signed.spiffeId.uri,
      trustBundlePem: splitPemCertificates(bundle.pem),
      expiresAtUnixMs: signed.notAfter.getTime(),
    };
  };
}

function usedToken(): MeshError {
  return new MeshError(
    Code.UNAUTHENTICATED,
    'join token refused: it was already used; create a new one with `agent-mesh token create`',
  );
}
