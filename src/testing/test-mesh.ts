import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentOptions, type RunningAgent } from '../agent/agent-runtime.js';
import {
  startControlPlane,
  type ControlPlaneOptions,
  type RunningControlPlane,
} from '../control-plane/control-plane.js';
import { MemoryStore } from '../control-plane/stores/memory-store.js';
import { CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import type { CertificateAuthority, LeafOptions } from '../identity/certificate-authority.js';
import { ensureCaDir, ensureIdentity } from '../identity/certs-dir.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { MeshIdentity } from '../transport/mesh-identity.js';

/** Options for {@link createTestCertificates}. */
export interface TestCertificatesOptions {
  /** The trust domain of the new CA (default `agentmesh.local`). */
  trustDomain?: string;
}

/** A development CA in a temporary certificate directory, and the identities it issues there. */
export interface TestCertificates {
  /** The certificate directory, laid out as `agent-mesh ca init` lays it out. */
  dir: string;
  /** The CA itself, for certificates beyond what {@link TestCertificates.identity} issues. */
  ca: CertificateAuthority;
  /**
   * The identity `name`, issued on first use: entitled to `options.types`, by default to the name without a
   * trailing instance number (`summarizer-1` may register as a `summarizer`).
   */
  identity(name: string, options?: LeafOptions): Promise<MeshIdentity>;
  /** Deletes the directory, keys included. */
  remove(): Promise<void>;
}

/**
 * Creates a fresh CA in a new temporary directory, for tests and local experiments: nothing is shared with another
 * run, and {@link TestCertificates.remove} deletes it all. Not for production: the CA key sits beside the
 * certificates.
 */
export async function createTestCertificates(
  options: TestCertificatesOptions = {},
): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-mesh-test-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const ca = await ensureCaDir(dir, options.trustDomain ?? 'agentmesh.local');
    return {
      dir,
      ca,
      identity: async (name, leaf = {}) =>
        new MeshIdentity(await ensureIdentity(dir, name, { types: [name.replace(/-\d+$/, '')], ...leaf })),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Options for {@link startTestMesh}. */
export interface TestMeshOptions extends TestCertificatesOptions {
  /** Control-plane settings (default: no active health checks, so that agents are healthy from registration). */
  controlPlane?: Partial<Omit<ControlPlaneOptions, 'certsDir' | 'store' | 'logger'>>;
  /** Where the control plane and the agents started with {@link TestMesh.startAgent} log (default: nowhere). */
  logger?: Logger;
}

/** A control plane with an in-memory store on loopback, its certificates, and the agents started in it. */
export interface TestMesh {
  /** The control plane's `host:port`: the `controlPlane` of an agent's options. */
  address: string;
  /** The running control plane: its state, operator views and metrics, for assertions. */
  controlPlane: RunningControlPlane;
  /** Where the mesh's CA and identities live. */
  certificates: TestCertificates;
  /** Issues the identity `name` (see {@link TestCertificates.identity}). */
  identity(name: string, options?: LeafOptions): Promise<MeshIdentity>;
  /**
   * Starts an agent named `name` in this mesh, with an identity entitled to `options.type`; it drains when the mesh
   * closes (or earlier, when the test drains it).
   */
  startAgent(name: string, options: Omit<AgentOptions, 'identity' | 'controlPlane'>): Promise<RunningAgent>;
  /** Drains the agents started here (newest first), stops the control plane and removes the certificates. */
  close(): Promise<void>;
}

/**
 * Starts a mesh to test agents against: a fresh CA in a temporary directory, a control plane on `127.0.0.1:0` with
 * the in-memory store, and a helper that starts agents with identities from that CA. The calls between them are
 * real gRPC over mutual TLS; close the mesh when the test ends.
 */
export async function startTestMesh(options: TestMeshOptions = {}): Promise<TestMesh> {
  const certificates = await createTestCertificates(options);
  const logger = options.logger ?? silentLogger();
  let controlPlane: RunningControlPlane;
  try {
    await ensureIdentity(certificates.dir, CONTROL_PLANE_NAME);
    controlPlane = await startControlPlane({
      listen: '127.0.0.1:0',
      healthChecks: false,
      ...options.controlPlane,
      certsDir: certificates.dir,
      store: new MemoryStore(),
      logger,
    });
  } catch (error) {
    await certificates.remove();
    throw error;
  }
  const agents: RunningAgent[] = [];
  return {
    address: controlPlane.address,
    controlPlane,
    certificates,
    identity: certificates.identity,
    async startAgent(name, agentOptions) {
      const agent = await startAgent({
        logger,
        ...agentOptions,
        identity: await certificates.identity(name, { types: [agentOptions.type] }),
        controlPlane: controlPlane.address,
      });
      agents.push(agent);
      return agent;
    },
    async close() {
      for (const agent of agents.splice(0).reverse()) await agent.drain(1_000).catch(() => undefined);
      await controlPlane.close(0);
      await certificates.remove();
    },
  };
}
