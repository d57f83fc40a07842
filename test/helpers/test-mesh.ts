import type { HealthImplementation } from 'grpc-health-check';
import { createAgentService } from '../../src/agent/agent-service.js';
import { ControlPlaneClient } from '../../src/control-plane/client.js';
import {
  startControlPlane,
  type ControlPlaneOptions,
  type RunningControlPlane,
} from '../../src/control-plane/control-plane.js';
import type { Store } from '../../src/control-plane/store.js';
import { MemoryStore } from '../../src/control-plane/stores/memory-store.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { MeshClient, type MeshClientOptions } from '../../src/data-plane/mesh-client.js';
import { ensureCaDir, ensureIdentity } from '../../src/identity/certs-dir.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { startServer, type RunningServer } from '../../src/transport/server.js';
import { conventionalType } from './test-ca.js';
import { makeTempDir } from './temp-dir.js';

/** A control plane on loopback with a fresh CA, and helpers to make agents that talk to it. */
export interface TestMesh {
  certsDir: string;
  controlPlane: RunningControlPlane;
  /**
   * An identity issued by the mesh's CA (files in the certs directory), entitled to `types` (by default the
   * conventional type of a test agent's name: see {@link conventionalType}).
   */
  identity(name: string, types?: readonly string[]): Promise<MeshIdentity>;
  /** A control-plane client authenticated as `name` (its identity entitled as {@link TestMesh.identity} says). */
  client(name: string, types?: readonly string[]): Promise<ControlPlaneClient>;
  /** A real agent server (Agent service + grpc.health.v1) for `name`, to register with its address. */
  agentServer(
    name: string,
    types?: readonly string[],
  ): Promise<{ identity: MeshIdentity; server: RunningServer; health: HealthImplementation }>;
  close(): Promise<void>;
}

/** Options: the store to use (a fresh MemoryStore by default) and control-plane settings. */
export type TestMeshOptions = Partial<Omit<ControlPlaneOptions, 'certsDir' | 'store' | 'logger'>> & {
  store?: () => Promise<Store> | Store;
  /** Reuse a certificate directory (a second replica of the same mesh). */
  certsDir?: string;
};

/** Starts a test mesh; close it in afterAll/afterEach. */
export async function startTestMesh(options: TestMeshOptions = {}): Promise<TestMesh> {
  const temp = options.certsDir ? undefined : await makeTempDir('agent-mesh-mesh-');
  const certsDir = options.certsDir ?? temp!.dir;
  if (!options.certsDir) {
    // A given directory is used as it is (a second replica, or certificates a test prepared on purpose).
    await ensureCaDir(certsDir, 'agentmesh.local');
    await ensureIdentity(certsDir, 'control-plane');
  }
  const store = options.store ? await options.store() : new MemoryStore();
  const controlPlane = await startControlPlane({
    listen: '127.0.0.1:0',
    healthChecks: false,
    ...options,
    certsDir,
    store,
    logger: silentLogger(),
  });
  const clients: ControlPlaneClient[] = [];
  const servers: RunningServer[] = [];
  const identity = async (name: string, types?: readonly string[]) =>
    new MeshIdentity(await ensureIdentity(certsDir, name, { types: types ?? [conventionalType(name)] }));
  return {
    certsDir,
    controlPlane,
    identity,
    async client(name, types) {
      const client = new ControlPlaneClient({
        address: controlPlane.address,
        identity: await identity(name, types),
      });
      clients.push(client);
      return client;
    },
    async agentServer(name, types) {
      const agentIdentity = await identity(name, types);
      const server = await startServer({
        identity: agentIdentity,
        services: [
          createAgentService({
            identity: agentIdentity,
            logger: silentLogger(),
            methods: { ping: async () => ({ payload: Buffer.from(name), contentType: 'text/plain' }) },
          }),
        ],
      });
      servers.push(server);
      return { identity: agentIdentity, server, health: server.health };
    },
    async close() {
      for (const client of clients) client.close();
      await Promise.all(servers.map((server) => server.shutdown(0)));
      await controlPlane.close(0);
      await temp?.remove();
    },
  };
}

/** Waits until `predicate` holds for a message from `next` (a queue fed by a watch), or fails after `timeoutMs`. */
export function collector<T>(): {
  push(item: T): void;
  next(predicate: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  items: T[];
} {
  const items: T[] = [];
  const waiters: Array<{ predicate: (item: T) => boolean; resolve: (item: T) => void }> = [];
  return {
    items,
    push(item) {
      items.push(item);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(item)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(item);
        }
      }
    },
    next(predicate, timeoutMs = 30_000) {
      const seen = items.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (item: T) => {
            clearTimeout(timer);
            resolve(item);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching message within ${timeoutMs}ms; got ${items.length} messages`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
}

/**
 * The test meshes a test starts, and whatever it opens on them, closed together in `afterEach`: what was opened is
 * closed first, newest first, then the meshes, newest first (a second mesh may reuse a first one's port).
 */
export function testMeshes(): {
  start(options?: TestMeshOptions): Promise<TestMesh>;
  /** Closes `close` with the meshes, before them. */
  defer(close: () => unknown): void;
  closeAll(): Promise<void>;
} {
  const meshes: TestMesh[] = [];
  const closers: Array<() => unknown> = [];
  return {
    async start(options = {}) {
      const started = await startTestMesh(options);
      meshes.push(started);
      return started;
    },
    defer(close) {
      closers.push(close);
    },
    async closeAll() {
      for (const close of closers.splice(0).reverse()) await close();
      for (const started of meshes.splice(0).reverse()) await started.close().catch(() => undefined);
    },
  };
}

/** A mesh client for `name` with an endpoint cache following `mesh`'s control plane, started and ready. */
export async function startCaller(
  mesh: TestMesh,
  name: string,
  options: Partial<Omit<MeshClientOptions, 'identity' | 'cache' | 'logger'>> = {},
): Promise<{ cache: EndpointCache; client: MeshClient; close(): void }> {
  const cache = new EndpointCache({ client: await mesh.client(name), logger: silentLogger() });
  await cache.start();
  const client = new MeshClient({
    identity: await mesh.identity(name),
    cache,
    logger: silentLogger(),
    ...options,
  });
  return {
    cache,
    client,
    close() {
      client.close();
      cache.close();
    },
  };
}

/**
 * Whether `agent`'s view of the registry holds each of `names`, starting to follow any it does not yet: an agent
 * follows only what it needs (what it calls from its first call, and itself), so a test that looks an agent up by
 * name asks for it.
 */
export function knows(agent: { cache: EndpointCache }, ...names: string[]): boolean {
  for (const name of names) void agent.cache.coverAgent(name);
  return names.every((name) => agent.cache.get(name) !== undefined);
}
