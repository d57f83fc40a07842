import type { PeerCertificate } from 'node:tls';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { MeshIdentity } from '../transport/mesh-identity.js';

/** How a mesh identity connects to the event store's NATS servers. */
export interface EventStoreConnectOptions {
  identity: MeshIdentity;
  /** NATS URLs, e.g. `tls://127.0.0.1:4222`; `nats://` URLs get TLS too. */
  servers: readonly string[];
  /** The SPIFFE ID the servers' certificates must carry. */
  serverIdentity: string;
  /** The current user JWT and the seed of its nkey: asked on every (re)connection, so a renewed one is used. */
  credentials: () => { jwt: string; seed: Uint8Array };
  /** Replies arrive under it (see `inboxPrefix` in subjects.ts). */
  inboxPrefix?: string;
  /** The connection's name, as NATS logs and monitoring show it. */
  name: string;
  /** Called when the connection is closed for good (not on a reconnect). */
  onClosed?: (error: Error | undefined) => void;
}

/**
 * Connects to NATS over TLS with the identity's current certificate, trusting only the mesh's roots and checking
 * that the server is the event store (its SPIFFE ID, the mesh's own check, rather than a host name). Reconnects
 * for ever, with jitter; each new connection presents the certificate and credentials current then.
 */
export async function connectToEventStore(options: EventStoreConnectOptions): Promise<NatsConnection> {
  const { identity, serverIdentity } = options;
  // Read when each connection is made (the transport copies these properties then), so renewals apply.
  const tls = {
    get cert() {
      return identity.current.certificatePem;
    },
    get key() {
      return identity.current.privateKeyPem;
    },
    get ca() {
      return identity.current.trustBundlePem;
    },
    checkServerIdentity(_host: string, certificate: PeerCertificate): Error | undefined {
      const peer = identity.verifyPeer(certificate);
      if (!peer.ok) return new Error(`the NATS server's certificate is refused: ${peer.error.message}`);
      if (peer.value.uri !== serverIdentity) {
        return new Error(
          `the NATS server is ${peer.value.uri}, not the mesh's event store ${serverIdentity}`,
        );
      }
      return undefined;
    },
  };
  const nc = await connect({
    servers: options.servers.map((server) => server.replace(/^nats:\/\//, 'tls://')),
    name: options.name,
    tls,
    authenticator: (nonce?: string) => {
      const { jwt, seed } = options.credentials();
      return jwtAuthenticator(jwt, seed)(nonce);
    },
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    // Expired credentials (a control plane away longer than their lifetime) are refused until renewed ones come:
    // keep trying with whatever `credentials` gives then, rather than giving up after two refusals.
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: 500,
    reconnectJitter: 500,
    reconnectJitterTLS: 1000,
    timeout: 10_000,
    // No stack captured for every request (a PubAck, a pull): the mesh's errors say where they come from.
    noAsyncTraces: true,
  });
  void nc.closed().then((error) => options.onClosed?.(error ?? undefined));
  return nc;
}
