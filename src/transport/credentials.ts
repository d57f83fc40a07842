import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { Code, MeshError, type Result } from '../core/errors.js';
import type { TrustBundle } from '../identity/trust-bundle.js';
import { readCertificate } from '../identity/x509.js';
import type { SpiffeId } from '../core/spiffe-id.js';
import type { MeshIdentity, VerifiedPeer } from './mesh-identity.js';

/**
 * Which server a client means to reach: one exact SPIFFE ID (the usual case: the ID the registry lists for an
 * endpoint), or a predicate for a set of them.
 */
export type ExpectedPeer = string | ((id: SpiffeId) => boolean);

function describe(expected: ExpectedPeer): string {
  return typeof expected === 'string' ? `"${expected}"` : 'an accepted identity';
}

/**
 * Server credentials for mutual TLS: the server proves `identity`, demands a client certificate chaining to the
 * trust bundle (never the public roots), and refuses, with UNAUTHENTICATED before any handler runs, every call
 * whose client certificate is not a valid X.509-SVID of a trusted trust domain. Handlers read the caller's
 * verified ID with {@link peerIdentity}. A renewed certificate or rotated bundle applies to new connections.
 */
export function createServerCredentials(
  identity: MeshIdentity,
  options: ServerCredentialsOptions = {},
): grpc.ServerCredentials {
  const anonymous = new Set(options.anonymousMethods ?? []);
  return grpc.experimental.createServerCredentialsWithInterceptors(
    serverTls(identity, anonymous.size === 0),
    [createPeerCheck(identity, anonymous)],
  );
}

/**
 * The TLS of {@link createServerCredentials} without its per-call peer check, for a server whose every handler
 * checks its caller itself (see {@link checkedHandler}): grpc-js then adds no interceptor layer to each call.
 * @internal
 */
export function serverTls(identity: MeshIdentity, requireClientCertificate: boolean): grpc.ServerCredentials {
  // grpc-js reads the first provider as the identity one, whatever the parameter names say; ours serves both.
  // With anonymous methods, TLS must let certificate-less clients connect; the peer check then refuses them (and
  // any unverified certificate) on every other method.
  return grpc.experimental.createCertificateProviderServerCredentials(
    identity,
    identity,
    requireClientCertificate,
  );
}

/**
 * A grpc-js handler that refuses, UNAUTHENTICATED, a call whose client certificate is not a valid X.509-SVID of a
 * trusted trust domain, before `handler` runs: the check of {@link createServerCredentials}, made in the handler.
 * @internal
 */
export function checkedHandler(
  identity: MeshIdentity,
  method: { responseStream: boolean },
  handler: grpc.UntypedHandleCall,
): grpc.UntypedHandleCall {
  const serve = handler as (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: unknown) => void;
  return ((call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
    const peer = identity.verifyCallPeer(call);
    if (peer.ok) return serve(call, callback);
    const status = { code: grpc.status.UNAUTHENTICATED, details: peer.error.message };
    if (method.responseStream || !callback) call.emit('error', status);
    else callback(status);
  }) as grpc.UntypedHandleCall;
}

/** Options for {@link createServerCredentials}. */
export interface ServerCredentialsOptions {
  /**
   * Full method paths (`/package.Service/Method`) that callers without a client certificate may call, e.g. the
   * control plane's SignCertificate for an agent joining with a token. Their handlers must authenticate the
   * caller some other way. Empty by default: every call needs a verified client certificate.
   */
  anonymousMethods?: readonly string[];
}

function createPeerCheck(identity: MeshIdentity, anonymous: ReadonlySet<string>): grpc.ServerInterceptor {
  return (method, call) =>
    anonymous.has(method.path)
      ? new grpc.ServerInterceptingCall(call)
      : new grpc.ServerInterceptingCall(call, {
          start: (next) => {
            next({
              onReceiveMetadata: (metadata, nextMetadata) => {
                const peer = identity.verifyCallPeer(call);
                if (peer.ok) nextMetadata(metadata);
                else call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: peer.error.message });
              },
            });
          },
        });
}

/**
 * Channel options every mesh client should use with {@link createChannelCredentials}. Peers are verified by
 * SPIFFE ID, not by hostname, so the TLS server name (SNI) carries a fixed name: grpc-js would otherwise send the
 * target's IP address, which RFC 6066 forbids and Node warns about (DEP0123).
 *
 * While calls are open, a keepalive ping goes every second and the connection is given up after 2 s without an
 * answer: a peer that stopped (SIGSTOP, a frozen VM, a cut link) keeps its TCP connection open, and only a ping
 * tells that it is gone, so its calls fail over within 3 s instead of at their deadlines. The price: a peer whose
 * event loop is blocked for longer than 2 s looks gone too (its idempotent calls move elsewhere). Reconnects back off
 * from 100 ms to at most 5 s (grpc-js's default cap is 2 minutes), so a peer that comes back is found quickly.
 *
 * Channelz (grpc-js's registry of every channel, subchannel and call for its debugging service) is off: the mesh
 * serves no channelz service, and the registry costs every call its bookkeeping (see {@link MESH_SERVER_OPTIONS}).
 */
export const MESH_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  'grpc.ssl_target_name_override': 'agent-mesh',
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 1_000,
  'grpc.keepalive_timeout_ms': 2_000,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 5_000,
});

/**
 * Options every mesh server starts from: channelz off, as on the mesh's channels. Nothing in the mesh reads it
 * (its metrics, logs and traces say what channelz would), and grpc-js otherwise counts every call, and sets up its
 * per-call trackers, for a debugging service nobody can call: about 6 µs of server CPU a call on the benchmark
 * machine, where a plain call costs about 70.
 */
export const MESH_SERVER_OPTIONS: grpc.ServerOptions = Object.freeze({ 'grpc.enable_channelz': 0 });

/**
 * Channel options of clients of the control plane: those of {@link MESH_CHANNEL_OPTIONS}, with keepalive pings
 * every 10 s, answered within 20 s: every agent holds a watch stream open to it all the time, and a control plane
 * busy sending large snapshots (after a restart, to every agent at once) must not look hung and have every agent
 * reconnect for another snapshot. A hung control plane is given up within 30 s; one that died, at once. Reconnects
 * come at most 2 s apart: a call made while the channel waits to reconnect fails at once, so the channel's wait adds
 * to the caller's own backoff (at most 5 s) before a returning control plane is found.
 */
export const CONTROL_PLANE_CHANNEL_OPTIONS: grpc.ChannelOptions = Object.freeze({
  ...MESH_CHANNEL_OPTIONS,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.max_reconnect_backoff_ms': 2_000,
});

/**
 * Channel credentials for mutual TLS: the client proves `identity`, trusts only the bundle's roots, and accepts
 * the server only if its certificate is a valid X.509-SVID whose SPIFFE ID is `expected`. (Node's default
 * hostname check cannot read URI SANs; this check replaces it.) A failed check fails the connection, so calls see
 * UNAVAILABLE with the reason. Create one per expected peer and keep it: grpc-js shares connections only between
 * clients built with the same credentials object.
 */
export function createChannelCredentials(
  identity: MeshIdentity,
  expected: ExpectedPeer,
): grpc.ChannelCredentials {
  return grpc.experimental.createCertificateProviderChannelCredentials(identity, identity, {
    checkServerIdentity: serverCheck((certificate) => identity.verifyPeer(certificate), expected),
  });
}

/**
 * Channel credentials for a process that has no identity yet (an agent joining with a token): it presents no
 * client certificate, but checks the server exactly as {@link createChannelCredentials} does, against `bundle`.
 */
export function createBootstrapChannelCredentials(
  bundle: TrustBundle,
  expected: ExpectedPeer,
): grpc.ChannelCredentials {
  const verify = (certificate: PeerCertificate): Result<SpiffeId> => {
    try {
      return bundle.verifySvid(readCertificate(certificate.raw));
    } catch (error) {
      return { ok: false, error: MeshError.from(error) };
    }
  };
  return grpc.credentials.createSsl(Buffer.from(bundle.pem), null, null, {
    checkServerIdentity: serverCheck(verify, expected),
  });
}

function serverCheck(
  verify: (certificate: PeerCertificate) => Result<SpiffeId>,
  expected: ExpectedPeer,
): (host: string, certificate: PeerCertificate) => Error | undefined {
  const matches = typeof expected === 'string' ? (id: SpiffeId) => id.uri === expected : expected;
  return (_host, certificate) => {
    const peer = verify(certificate);
    if (!peer.ok) return new Error(`server refused: ${peer.error.message}`);
    if (!matches(peer.value))
      return new Error(`server refused: it is "${peer.value.uri}", not ${describe(expected)}`);
    return undefined;
  };
}

/**
 * The verified SPIFFE ID of the peer of a call, with the agent types its certificate entitles it to: on a server
 * call, the caller (for handlers behind {@link createServerCredentials}); on a client call, once it has connected,
 * the server. Never read identity from metadata or message bodies: only this.
 * @throws MeshError UNAUTHENTICATED when the call carries no verified peer certificate.
 */
export function peerIdentity(
  call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null },
  identity: MeshIdentity,
): VerifiedPeer {
  const peer = identity.verifyCallPeer(call);
  if (!peer.ok) throw new MeshError(Code.UNAUTHENTICATED, peer.error.message);
  return peer.value;
}
