import { createPrivateKey } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import { Code, MeshError, fail, ok, type Result } from '../core/errors.js';
import type { Clock } from '../identity/certificate-authority.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import type { SpiffeId, VerifiedPeer } from '../core/spiffe-id.js';
import { TrustBundle } from '../identity/trust-bundle.js';
import { readCertificate } from '../identity/x509.js';
import { tlsSocketOf } from './peer-socket.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export type { VerifiedPeer };

/** Peers verified recently, by certificate fingerprint: verification parses the certificate, calls are hot. */
const PEER_CACHE_LIMIT = 4096;

/**
 * The identity a process speaks with on every mTLS hop: its SVID, its private key and the trust bundle. It is a
 * grpc-js certificate provider, so credentials built from it pick up a renewed certificate or a rotated bundle
 * for new connections without a restart ({@link MeshIdentity.update}). It also verifies peers' SVIDs.
 */
export class MeshIdentity implements CertificateProvider {
  private material!: IdentityMaterial;
  private bundle!: TrustBundle;
  private id!: SpiffeId;
  private types: readonly string[] = [];
  /** {@link self}, made once per certificate: callers key per-peer caches (policy facts) by the object. */
  private selfPeer!: VerifiedPeer;
  private notAfterMs = 0;
  private updatedAtMs = 0;
  private caUpdate!: experimental.CaCertificateUpdate;
  private identityUpdate!: experimental.IdentityCertificateUpdate;
  private readonly caListeners = new Set<CaListener>();
  private readonly updateListeners = new Set<() => void>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly verifiedPeers = new Map<string, Result<VerifiedPeer>>();
  /** Peers verified per TLS connection; `generation` ties each to the trust bundle it was checked against. */
  private readonly verifiedSockets = new WeakMap<
    TLSSocket,
    { generation: number; result: Result<VerifiedPeer>; notAfter: number }
  >();
  private generation = 0;

  /**
   * @throws MeshError INVALID_ARGUMENT when the material is not a usable identity: see {@link MeshIdentity.update}.
   */
  constructor(
    material: IdentityMaterial,
    private readonly options: { clock?: Clock } = {},
  ) {
    this.update(material);
  }

  /** This process's own SPIFFE ID. */
  get spiffeId(): SpiffeId {
    return this.id;
  }

  /** The agent types this process's own certificate entitles it to. */
  get agentTypes(): readonly string[] {
    return this.types;
  }

  /** This process as its peers verify it: its SPIFFE ID and entitled agent types. */
  get self(): VerifiedPeer {
    return this.selfPeer;
  }

  /** The roots this process trusts. */
  get trustBundle(): TrustBundle {
    return this.bundle;
  }

  /** When the current certificate was put into force (ms since the epoch). */
  get updatedAt(): number {
    return this.updatedAtMs;
  }

  /** When this identity's certificate expires (ms since the epoch). */
  get expiresAt(): number {
    return this.notAfterMs;
  }

  /**
   * Replaces the identity (a renewed certificate) and/or the trust bundle (a rotated root). New connections use
   * it at once; open connections keep the old one until they close. The new material is checked first: the
   * certificate must be a valid, unexpired SVID issued by a root in the new bundle, and the key must match it.
   * @throws MeshError INVALID_ARGUMENT naming what is wrong; the current identity then stays in force.
   */
  update(material: IdentityMaterial): void {
    const bundle = TrustBundle.fromPem(material.trustBundlePem);
    const verified = bundle.verify(material.certificatePem);
    if (!verified.ok) {
      throw new MeshError(Code.INVALID_ARGUMENT, `identity certificate rejected: ${verified.error.message}`);
    }
    try {
      if (!verified.value.facts.x509.checkPrivateKey(createPrivateKey(material.privateKeyPem))) {
        throw new Error('the private key does not belong to the certificate');
      }
    } catch (error) {
      throw new MeshError(
        Code.INVALID_ARGUMENT,
        `identity private key rejected: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.material = material;
    this.bundle = bundle;
    this.id = verified.value.spiffeId;
    this.types = verified.value.facts.agentTypes;
    this.selfPeer = Object.freeze({ ...this.id, agentTypes: this.types });
    this.notAfterMs = Date.parse(verified.value.facts.x509.validTo);
    this.updatedAtMs = this.options.clock?.now() ?? Date.now();
    this.verifiedPeers.clear();
    this.generation += 1;
    this.caUpdate = { caCertificate: Buffer.from(bundle.pem) };
    this.identityUpdate = {
      certificate: Buffer.from(material.certificatePem),
      privateKey: Buffer.from(material.privateKeyPem),
    };
    for (const listener of this.caListeners) listener(this.caUpdate);
    for (const listener of this.identityListeners) listener(this.identityUpdate);
    for (const listener of this.updateListeners) listener();
  }

  /**
   * Verifies a TLS peer's certificate: signed by a root of the current trust bundle (which may have changed since
   * the handshake) and a valid X.509-SVID of that root's trust domain; the handshake checked its validity dates.
   * Returns the peer's SPIFFE ID and entitled types, or why it is refused (UNAUTHENTICATED).
   */
  verifyPeer(peer: PeerCertificate | undefined): Result<VerifiedPeer> {
    if (!peer?.raw) return fail(Code.UNAUTHENTICATED, 'the peer presented no certificate');
    const key = peer.fingerprint256;
    const cached = this.verifiedPeers.get(key);
    if (cached) return cached;
    let result: Result<VerifiedPeer>;
    try {
      const facts = readCertificate(peer.raw);
      const id = this.bundle.verifySvid(facts);
      const ours = id.ok && id.value.trustDomain === this.id.trustDomain;
      result = id.ok ? ok({ ...id.value, agentTypes: ours ? facts.agentTypes : [] }) : id;
    } catch (error) {
      result = fail(Code.UNAUTHENTICATED, MeshError.from(error).message);
    }
    if (this.verifiedPeers.size >= PEER_CACHE_LIMIT) this.verifiedPeers.clear();
    this.verifiedPeers.set(key, result);
    return result;
  }

  /**
   * Verifies the peer of a server call, once per TLS connection when the connection can be found (see
   * {@link tlsSocketOf}), else from the call's auth context. A peer whose certificate expires while its
   * connection is open is refused from then on.
   */
  verifyCallPeer(call: {
    getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
  }): Result<VerifiedPeer> {
    const socket = tlsSocketOf(call);
    if (!socket) return this.verifyPeer(call.getAuthContext()?.sslPeerCertificate);
    let entry = this.verifiedSockets.get(socket);
    if (!entry || entry.generation !== this.generation) {
      const peer = socket.getPeerCertificate();
      const result = socket.authorized
        ? this.verifyPeer(peer.raw ? peer : undefined)
        : fail(Code.UNAUTHENTICATED, 'the peer certificate was not verified by TLS');
      entry = {
        generation: this.generation,
        result,
        notAfter: peer.valid_to ? Date.parse(peer.valid_to) : 0,
      };
      this.verifiedSockets.set(socket, entry);
    }
    if (entry.result.ok && (this.options.clock?.now() ?? Date.now()) > entry.notAfter) {
      return fail(
        Code.UNAUTHENTICATED,
        'the peer certificate expired while its connection was open: reconnect with a renewed one',
      );
    }
    return entry.result;
  }

  /**
   * Calls `listener` after every update. Clients use it to open a new connection, which presents the new
   * certificate (an open connection keeps the one it was opened with). Returns a function that stops it.
   */
  onUpdate(listener: () => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** The material currently in force. The private key is for the TLS stack only: never send it anywhere. */
  get current(): Readonly<IdentityMaterial> {
    return this.material;
  }

  // The current material reaches a new listener on the next microtask, not synchronously: grpc-js registers its
  // secure-context watcher only after adding its provider listeners, so a synchronous first update would be lost
  // and the server would drop every connection.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caListeners.has(listener)) listener(this.caUpdate);
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityListeners.has(listener)) listener(this.identityUpdate);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
