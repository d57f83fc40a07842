import type * as grpc from '@grpc/grpc-js';
import type { ControlPlaneClient as ControlPlaneStub } from '../generated/agentmesh/v1/ControlPlane.js';
import type { WatchEvent__Output } from '../generated/agentmesh/v1/WatchEvent.js';
import { createCertificateRequest } from '../identity/certificate-authority.js';
import type { IdentityMaterial } from '../identity/certs-dir.js';
import { generateRsaKeyPair } from '../identity/keys.js';
import { identitySpiffeId, CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import { TrustBundle } from '../identity/trust-bundle.js';
import { Code, MeshError } from '../core/errors.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { OutageLog } from '../observability/outage-log.js';
import {
  CONTROL_PLANE_CHANNEL_OPTIONS,
  createBootstrapChannelCredentials,
  createChannelCredentials,
} from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import type { AgentRecord, AgentSpec, LoadReport } from '../core/agent-record.js';
import type { CallReport } from './call-graph.js';
import { parseControlPlaneAddresses } from './addresses.js';
import { policiesFromWire, policiesToWire, recordFromWire } from './convert.js';
import type { PolicySet } from '../core/policy.js';

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
  | {
      kind: 'snapshot';
      revision: number;
      agents: AgentRecord[];
      policies: PolicySet;
      /** The control plane is still hearing from agents after a restart with an empty store: keep the others. */
      partial: boolean;
      /** Whether the policies were ever set in the store (a fresh in-memory control plane has none yet). */
      policiesSet: boolean;
    }
  | { kind: 'agent'; revision: number; type: 'put' | 'delete'; record: AgentRecord; reason: string }
  | { kind: 'load'; revision: number; agentId: string; load: LoadReport }
  | { kind: 'policies'; revision: number; policies: PolicySet }
  | { kind: 'progress'; revision: number };

/** A running watch stream. */
export interface WatchHandle {
  cancel(): void;
}

/** Options for {@link ControlPlaneClient}. */
export interface ControlPlaneClientOptions {
  /**
   * The control plane: `host:port`, or several replicas of it (a list, or one string `cp-a:7400,cp-b:7400`). The
   * client starts at a random one, so that a fleet spreads over the replicas, and moves to the next when its
   * replica cannot be reached.
   */
  address: string | readonly string[];
  /** Who we are: every call is mTLS with this identity. */
  identity: MeshIdentity;
  /** The control plane's SPIFFE ID (default `spiffe://<our trust domain>/control-plane`). */
  expectedServer?: string;
  /** Default deadline of unary calls (default 10 s). */
  timeoutMs?: number;
  /** Where losing and finding the control plane is logged (a few lines per outage; default: nowhere). */
  logger?: Logger;
  random?: () => number;
}

/** Options of one call to the control plane. */
export interface ControlPlaneCallOptions {
  /** The call's deadline in ms from now (default: the client's `timeoutMs`). */
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
        partial: event.snapshot?.partial ?? false,
        policiesSet: Number(event.snapshot?.policies?.revision ?? 0) > 0,
      };
    case 'agent':
      return {
        kind: 'agent',
        revision,
        type: event.agent?.type === 'TYPE_DELETE' ? 'delete' : 'put',
        record: recordFromWire(event.agent!.agent!),
        reason: event.agent?.reason ?? '',
      };
    case 'load':
      return {
        kind: 'load',
        revision,
        agentId: event.load?.agentId ?? '',
        load: { inFlight: event.load?.load?.inFlight ?? 0, queueDepth: event.load?.load?.queueDepth ?? 0 },
      };
    case 'policies':
      return { kind: 'policies', revision, policies: policiesFromWire(event.policies!) };
    default:
      return { kind: 'progress', revision };
  }
}

/** Whether a failed call says that the replica could not be reached (or did not answer in time): worth another. */
function unreachable(error: MeshError): boolean {
  return error.code === Code.UNAVAILABLE || error.code === Code.DEADLINE_EXCEEDED;
}

/** One replica of the control plane, and the channel to it (made when first used). */
interface Replica {
  address: string;
  stub: ControlPlaneStub | undefined;
}

/**
 * A typed client of the control plane for agents and tools: every call over mTLS with the caller's identity,
 * checking that the server is the control plane; failures reject with a MeshError carrying the server's status.
 * Given several replicas, it uses one at a time and moves to the next when a call or the watch cannot reach it (a
 * unary call tries each replica once within its deadline). Reconnecting is the caller's loop: this client never
 * retries on its own beyond that, so a loop that backs off stays the only one.
 */
export class ControlPlaneClient {
  private readonly replicas: Replica[];
  private current: number;
  private readonly timeoutMs: number;
  private readonly stopListening: () => void;
  private readonly connect: (address: string) => ControlPlaneStub;
  private readonly reachability: OutageLog;
  private closed = false;

  /** @throws MeshError INVALID_ARGUMENT for a malformed address or address list. */
  constructor(options: ControlPlaneClientOptions) {
    const addresses = parseControlPlaneAddresses(options.address);
    if (!addresses.ok) throw addresses.error;
    const { protos } = loadMeshProtos();
    const expected =
      options.expectedServer ??
      identitySpiffeId(options.identity.spiffeId.trustDomain, CONTROL_PLANE_NAME).uri;
    this.connect = (address) =>
      new protos.agentmesh.v1.ControlPlane(
        address,
        createChannelCredentials(options.identity, expected),
        CONTROL_PLANE_CHANNEL_OPTIONS,
      );
    this.replicas = addresses.value.map((address) => ({ address, stub: undefined }));
    this.current =
      Math.floor((options.random ?? Math.random)() * this.replicas.length) % this.replicas.length;
    // A renewed identity reaches only new connections: move to new ones, and let calls on the old ones finish.
    this.stopListening = options.identity.onUpdate(() => {
      for (const replica of this.replicas) {
        const previous = replica.stub;
        replica.stub = previous && this.connect(replica.address);
        previous?.close();
      }
    });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.reachability = new OutageLog({
      logger: options.logger ?? silentLogger(),
      subject: 'control plane',
      meanwhile: 'serving and calling on the last known endpoints and policies, retrying with backoff',
    });
  }

  /** The replica the next call goes to. */
  get address(): string {
    return this.replicas[this.current]!.address;
  }

  /** Whether the last call or watch failed to reach the control plane. */
  get unreachable(): boolean {
    return this.reachability.unreachable;
  }

  async register(
    spec: Partial<AgentSpec> & Pick<AgentSpec, 'type' | 'name' | 'endpoint'>,
    leaseTtlMs = 0,
    options: ControlPlaneCallOptions = {},
  ): Promise<{ record: AgentRecord; leaseTtlMs: number }> {
    const response = await this.unary<{
      agent: Parameters<typeof recordFromWire>[0] | null;
      leaseTtlMs: number | string;
    }>((stub, done, call) => stub.Register({ spec, leaseTtlMs }, call, done as never), options);
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
    options: ControlPlaneCallOptions = {},
  ): Promise<number> {
    const response = await this.unary<{ leaseExpiresAtUnixMs: number }>(
      (stub, done, call) =>
        stub.Heartbeat({ agentId, load, draining, calls: [...calls] }, call, done as never),
      options,
    );
    return Number(response.leaseExpiresAtUnixMs);
  }

  async deregister(agentId: string, options: ControlPlaneCallOptions = {}): Promise<void> {
    await this.unary((stub, done, call) => stub.Deregister({ agentId }, call, done as never), options);
  }

  async getAgent(agentId: string): Promise<AgentRecord> {
    return recordFromWire(
      await this.unary((stub, done, call) => stub.GetAgent({ agentId }, call, done as never)),
    );
  }

  async discover(request: DiscoverRequest = {}): Promise<{ agents: AgentRecord[]; revision: number }> {
    const response = await this.unary<{ agents: Parameters<typeof recordFromWire>[0][]; revision: number }>(
      (stub, done, call) => stub.Discover(request, call, done as never),
    );
    return { agents: response.agents.map(recordFromWire), revision: Number(response.revision) };
  }

  async getPolicies(): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((stub, done, call) => stub.GetPolicies({}, call, done as never)),
    );
  }

  async setPolicies(policies: PolicySet): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((stub, done, call) =>
        stub.SetPolicies(policiesToWire(policies, 0), call, done as never),
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
    }>((stub, done, call) => stub.SignCertificate({ csrPem, ttlMs }, call, done as never));
    return {
      certificatePem: response.certificatePem,
      spiffeId: response.spiffeId,
      trustBundlePem: response.trustBundlePem.join(''),
      expiresAt: Number(response.expiresAtUnixMs),
    };
  }

  /**
   * Opens a watch stream from `sinceRevision` (0 for a snapshot first) on the current replica. `onMessage` gets
   * every message; `onEnd` is called exactly once when the stream ends, with the error that ended it (grpc-js
   * reports most failures twice, as `error` and then `end`: only the first counts). Cancelling ends it without a
   * call. A stream that could not reach its replica moves the client to the next one.
   */
  watch(
    sinceRevision: number,
    onMessage: (message: WatchMessage) => void,
    onEnd?: (error?: Error) => void,
  ): WatchHandle {
    const replica = this.replicas[this.current]!;
    const stream = this.stubOf(replica).Watch({ sinceRevision });
    let ended = false;
    let heard = false;
    const end = (error?: MeshError) => {
      if (ended) return;
      ended = true;
      if (error && unreachable(error) && !heard) this.failedAt(replica, error);
      onEnd?.(error);
    };
    stream.on('data', (event: WatchEvent__Output) => {
      if (ended) return;
      if (!heard) {
        heard = true;
        this.reachability.succeeded(replica.address);
      }
      onMessage(watchFromWire(event));
    });
    stream.on('error', (error: grpc.ServiceError) => end(fromServiceError(error)));
    stream.on('end', () => end());
    return {
      cancel: () => {
        ended = true;
        stream.cancel();
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.reachability.close();
    for (const replica of this.replicas) replica.stub?.close();
  }

  private stubOf(replica: Replica): ControlPlaneStub {
    if (this.closed) {
      throw new MeshError(Code.FAILED_PRECONDITION, 'this control-plane client is closed');
    }
    replica.stub ??= this.connect(replica.address);
    return replica.stub;
  }

  /** `replica` could not be reached: logged (once per outage), and the next call goes to the next replica. */
  private failedAt(replica: Replica, error: MeshError): void {
    this.reachability.failed(replica.address, error);
    if (this.replicas[this.current] === replica) this.current = (this.current + 1) % this.replicas.length;
  }

  /** One unary call: on the current replica, then on each other one while the replica is unreachable. */
  private async unary<T>(
    start: (
      stub: ControlPlaneStub,
      done: (error: grpc.ServiceError | null, value?: T) => void,
      options: grpc.CallOptions,
    ) => void,
    options: ControlPlaneCallOptions = {},
  ): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
    return acrossReplicas(this.replicas.length, deadline, async (attemptDeadline) => {
      const replica = this.replicas[this.current]!;
      const stub = this.stubOf(replica);
      try {
        const value = await new Promise<T>((resolve, reject) => {
          start(stub, (error, result) => (error ? reject(fromServiceError(error)) : resolve(result as T)), {
            deadline: attemptDeadline,
          });
        });
        this.reachability.succeeded(replica.address);
        return value;
      } catch (error) {
        const failure = error as MeshError;
        if (unreachable(failure)) this.failedAt(replica, failure);
        else this.reachability.succeeded(replica.address); // it answered, with a refusal
        throw failure;
      }
    });
  }
}

/**
 * Makes one call on the replicas in turn (`attempt` picks which), moving on only while they cannot be reached; a
 * refusal is final. Each attempt gets its share of the time left (half for the first of two), so that a replica
 * that hangs does not take the time of the others.
 */
async function acrossReplicas<T>(
  replicas: number,
  deadline: number,
  attempt: (attemptDeadline: number) => Promise<T>,
): Promise<T> {
  let failure: MeshError | undefined;
  for (let tried = 0; tried < replicas; tried += 1) {
    const now = Date.now();
    if (now >= deadline) break;
    try {
      return await attempt(now + (deadline - now) / (replicas - tried));
    } catch (error) {
      failure = MeshError.from(error);
      if (!unreachable(failure)) throw failure;
    }
  }
  throw failure ?? new MeshError(Code.DEADLINE_EXCEEDED, 'no time left for a call to the control plane');
}

/** Options for {@link joinMesh}. */
export interface JoinOptions {
  /** `host:port` of the control plane, or several replicas (`cp-a:7400,cp-b:7400`, or a list). */
  address: string | readonly string[];
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
  const addresses = parseControlPlaneAddresses(options.address);
  if (!addresses.ok) throw addresses.error;
  const { protos } = loadMeshProtos();
  const credentials = createBootstrapChannelCredentials(
    bundle,
    identitySpiffeId(trustDomain!, CONTROL_PLANE_NAME).uri,
  );
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let next = 0;
  const response = await acrossReplicas(addresses.value.length, deadline, async (attemptDeadline) => {
    const stub = new protos.agentmesh.v1.ControlPlane(
      addresses.value[next++]!,
      credentials,
      CONTROL_PLANE_CHANNEL_OPTIONS,
    );
    try {
      return await new Promise<{ certificatePem: string; trustBundlePem: string[] }>((resolve, reject) =>
        stub.SignCertificate(
          { csrPem, joinToken: options.token, ttlMs: options.ttlMs ?? 0 },
          { deadline: attemptDeadline },
          (error, value) => (error || !value ? reject(fromServiceError(error)) : resolve(value)),
        ),
      );
    } finally {
      stub.close();
    }
  });
  return {
    certificatePem: response.certificatePem,
    privateKeyPem: keys.privateKeyPem,
    trustBundlePem: response.trustBundlePem.join(''),
  };
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
