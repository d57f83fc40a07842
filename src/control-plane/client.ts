import type * as grpc from '@grpc/grpc-js';
import type { ControlPlaneClient as ControlPlaneStub } from '../generated/agentmesh/v1/ControlPlane.js';
import type { WatchEvent__Output } from '../generated/agentmesh/v1/WatchEvent.js';
import { createCertificateRequest } from '../identity/certificate-authority.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import { generateRsaKeyPair } from '../identity/keys.js';
import { identitySpiffeId, CONTROL_PLANE_NAME } from '../identity/spiffe-id.js';
import { TrustBundle } from '../identity/trust-bundle.js';
import {
  MESH_CHANNEL_OPTIONS,
  createBootstrapChannelCredentials,
  createChannelCredentials,
} from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import type { AgentRecord, AgentSpec, LoadReport } from './agent-record.js';
import type { CallReport } from './call-graph.js';
import { policiesFromWire, policiesToWire, recordFromWire } from './convert.js';
import type { PolicySet } from './policy.js';

/** What a discovery asks for; `labelSelector` uses Kubernetes syntax. */
export interface DiscoverRequest {
  type?: string;
  capabilities?: string[];
  labelSelector?: string;
  includeUnhealthy?: boolean;
  /** Only agents offering the skill (tool) with this id, and a skill with this tag. */
  skill?: string;
  skillTag?: string;
}

/** A certificate the control plane signed. */
export interface SignedIdentity {
  certificatePem: string;
  spiffeId: string;
  trustBundlePem: string;
  expiresAt: number;
}

/** One message of a watch stream, in domain terms. */
export type WatchMessage =
  | { kind: 'snapshot'; revision: number; agents: AgentRecord[]; policies: PolicySet }
  | { kind: 'agent'; revision: number; type: 'put' | 'delete'; record: AgentRecord; reason: string }
  | { kind: 'policies'; revision: number; policies: PolicySet }
  | { kind: 'progress'; revision: number };

/** A running watch stream. */
export interface WatchHandle {
  cancel(): void;
}

/** Options for {@link ControlPlaneClient}. */
export interface ControlPlaneClientOptions {
  /** `host:port` of the control plane. */
  address: string;
  /** Who we are: every call is mTLS with this identity. */
  identity: MeshIdentity;
  /** The control plane's SPIFFE ID (default `spiffe://<our trust domain>/control-plane`). */
  expectedServer?: string;
  /** Default deadline of unary calls (default 10 s). */
  timeoutMs?: number;
}

function watchFromWire(event: WatchEvent__Output): WatchMessage {
  const revision = Number(event.revision);
  switch (event.kind) {
    case 'snapshot':
      return {
        kind: 'snapshot',
        revision,
        agents: (event.snapshot?.agents ?? []).map(recordFromWire),
        policies: event.snapshot?.policies
          ? policiesFromWire(event.snapshot.policies)
          : { defaultEffect: 'allow', rules: [] },
      };
    case 'agent':
      return {
        kind: 'agent',
        revision,
        type: event.agent?.type === 'TYPE_DELETE' ? 'delete' : 'put',
        record: recordFromWire(event.agent!.agent!),
        reason: event.agent?.reason ?? '',
      };
    case 'policies':
      return { kind: 'policies', revision, policies: policiesFromWire(event.policies!) };
    default:
      return { kind: 'progress', revision };
  }
}

/**
 * A typed client of the control plane for agents and tools: every call over mTLS with the caller's identity,
 * checking that the server is the control plane; failures reject with a MeshError carrying the server's status.
 */
export class ControlPlaneClient {
  private stub: ControlPlaneStub;
  private readonly timeoutMs: number;
  private readonly stopListening: () => void;

  constructor(options: ControlPlaneClientOptions) {
    const { protos } = loadMeshProtos();
    const expected =
      options.expectedServer ??
      identitySpiffeId(options.identity.spiffeId.trustDomain, CONTROL_PLANE_NAME).uri;
    const connect = () =>
      new protos.agentmesh.v1.ControlPlane(
        options.address,
        createChannelCredentials(options.identity, expected),
        MESH_CHANNEL_OPTIONS,
      );
    this.stub = connect();
    // A renewed identity reaches only new connections: move to a new one, and let calls on the old one finish.
    this.stopListening = options.identity.onUpdate(() => {
      const previous = this.stub;
      this.stub = connect();
      previous.close();
    });
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async register(
    spec: Partial<AgentSpec> & Pick<AgentSpec, 'type' | 'name' | 'endpoint'>,
    leaseTtlMs = 0,
  ): Promise<{ record: AgentRecord; leaseTtlMs: number }> {
    const response = await this.unary<{
      agent: Parameters<typeof recordFromWire>[0] | null;
      leaseTtlMs: number | string;
    }>((done, options) => this.stub.Register({ spec, leaseTtlMs }, options, done as never));
    return { record: recordFromWire(response.agent!), leaseTtlMs: Number(response.leaseTtlMs) };
  }

  /**
   * Renews the lease of `agentId` with its load and draining flag, and the calls it made since its previous
   * heartbeat (at most 256 reports; the control plane ignores malformed ones). Resolves to the lease's new end.
   */
  async heartbeat(
    agentId: string,
    load: LoadReport = { inFlight: 0, queueDepth: 0 },
    draining = false,
    calls: readonly CallReport[] = [],
  ): Promise<number> {
    const response = await this.unary<{ leaseExpiresAtUnixMs: number }>((done, options) =>
      this.stub.Heartbeat({ agentId, load, draining, calls: [...calls] }, options, done as never),
    );
    return Number(response.leaseExpiresAtUnixMs);
  }

  async deregister(agentId: string): Promise<void> {
    await this.unary((done, options) => this.stub.Deregister({ agentId }, options, done as never));
  }

  async getAgent(agentId: string): Promise<AgentRecord> {
    return recordFromWire(
      await this.unary((done, options) => this.stub.GetAgent({ agentId }, options, done as never)),
    );
  }

  async discover(request: DiscoverRequest = {}): Promise<{ agents: AgentRecord[]; revision: number }> {
    const response = await this.unary<{ agents: Parameters<typeof recordFromWire>[0][]; revision: number }>(
      (done, options) => this.stub.Discover(request, options, done as never),
    );
    return { agents: response.agents.map(recordFromWire), revision: Number(response.revision) };
  }

  async getPolicies(): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((done, options) => this.stub.GetPolicies({}, options, done as never)),
    );
  }

  async setPolicies(policies: PolicySet): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((done, options) =>
        this.stub.SetPolicies(policiesToWire(policies, 0), options, done as never),
      ),
    );
  }

  /** Asks for a certificate for our own identity (renewal): only the CSR travels, the key stays here. */
  async signCertificate(csrPem: string, ttlMs = 0): Promise<SignedIdentity> {
    const response = await this.unary<{
      certificatePem: string;
      spiffeId: string;
      trustBundlePem: string[];
      expiresAtUnixMs: number;
    }>((done, options) => this.stub.SignCertificate({ csrPem, ttlMs }, options, done as never));
    return {
      certificatePem: response.certificatePem,
      spiffeId: response.spiffeId,
      trustBundlePem: response.trustBundlePem.join(''),
      expiresAt: Number(response.expiresAtUnixMs),
    };
  }

  /**
   * Opens a watch stream from `sinceRevision` (0 for a snapshot first). `onMessage` gets every message;
   * `onEnd` gets the error that ended the stream (cancelling ends it without one).
   */
  watch(
    sinceRevision: number,
    onMessage: (message: WatchMessage) => void,
    onEnd?: (error?: Error) => void,
  ): WatchHandle {
    const stream = this.stub.Watch({ sinceRevision });
    let cancelled = false;
    stream.on('data', (event: WatchEvent__Output) => onMessage(watchFromWire(event)));
    stream.on('error', (error: grpc.ServiceError) => {
      if (!cancelled) onEnd?.(fromServiceError(error));
    });
    stream.on('end', () => {
      if (!cancelled) onEnd?.();
    });
    return {
      cancel: () => {
        cancelled = true;
        stream.cancel();
      },
    };
  }

  close(): void {
    this.stopListening();
    this.stub.close();
  }

  private unary<T>(
    start: (done: (error: grpc.ServiceError | null, value?: T) => void, options: grpc.CallOptions) => void,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      start((error, value) => (error ? reject(fromServiceError(error)) : resolve(value as T)), {
        deadline: Date.now() + this.timeoutMs,
      });
    });
  }
}

/** Options for {@link joinMesh}. */
export interface JoinOptions {
  /** `host:port` of the control plane. */
  address: string;
  /** The mesh's trust bundle (its CA certificate), obtained out of band: it is public. */
  trustBundlePem: string;
  /** The one-time token from `agent-mesh token create --name <agent>`. */
  token: string;
  /** The agent's name; must be the one the token was made for. */
  name: string;
  ttlMs?: number;
  timeoutMs?: number;
}

/**
 * Obtains a first identity with a join token: generates a key pair here, sends only a CSR to the control plane
 * (checking that the server is the control plane of the bundle's trust domain), and returns the signed certificate
 * with the key. The private key never leaves this process.
 */
export async function joinMesh(options: JoinOptions): Promise<IdentityMaterial> {
  const bundle = TrustBundle.fromPem(options.trustBundlePem);
  const [trustDomain] = [...bundle.trustDomains];
  const spiffeId = identitySpiffeId(trustDomain!, options.name);
  const keys = await generateRsaKeyPair();
  const csrPem = createCertificateRequest(spiffeId, keys.privateKeyPem, keys.publicKeyPem);
  const { protos } = loadMeshProtos();
  const stub = new protos.agentmesh.v1.ControlPlane(
    options.address,
    createBootstrapChannelCredentials(bundle, identitySpiffeId(trustDomain!, CONTROL_PLANE_NAME).uri),
    MESH_CHANNEL_OPTIONS,
  );
  try {
    const response = await new Promise<{ certificatePem: string; trustBundlePem: string[] }>(
      (resolve, reject) =>
        stub.SignCertificate(
          { csrPem, joinToken: options.token, ttlMs: options.ttlMs ?? 0 },
          { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
          (error, value) => (error || !value ? reject(fromServiceError(error)) : resolve(value)),
        ),
    );
    return {
      certificatePem: response.certificatePem,
      privateKeyPem: keys.privateKeyPem,
      trustBundlePem: response.trustBundlePem.join(''),
    };
  } finally {
    stub.close();
  }
}

/**
 * Renews `identity` through the control plane: a new key pair, a CSR authenticated by the current certificate,
 * and the new certificate and trust bundle put into force for new connections.
 */
export async function renewIdentity(
  client: ControlPlaneClient,
  identity: MeshIdentity,
  ttlMs = 0,
): Promise<IdentityMaterial> {
  const keys = await generateRsaKeyPair();
  const csrPem = createCertificateRequest(identity.spiffeId, keys.privateKeyPem, keys.publicKeyPem);
  const signed = await client.signCertificate(csrPem, ttlMs);
  const material = {
    certificatePem: signed.certificatePem,
    privateKeyPem: keys.privateKeyPem,
    trustBundlePem: signed.trustBundlePem,
  };
  identity.update(material);
  return material;
}
