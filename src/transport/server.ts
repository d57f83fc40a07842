import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { Code, MeshError, quote } from '../core/errors.js';
import { createServerCredentials, type ServerCredentialsOptions } from './credentials.js';
import type { MeshIdentity } from './mesh-identity.js';
import { bindServer, createServerShutdown } from './server-lifecycle.js';

/** A service to serve: its definition (from generated stubs) and its handlers. */
export interface ServiceRegistration {
  /** Fully qualified service name, e.g. `agentmesh.v1.Agent`, under which health is reported. */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/** Options for {@link startServer}. */
export interface StartServerOptions {
  /** The identity the server proves, and whose trust bundle it checks callers against. */
  identity: MeshIdentity;
  /** `host:port` to bind; default `127.0.0.1:0` (loopback, a free port). */
  address?: string;
  services: ServiceRegistration[];
  /** Protos to describe through server reflection (`grpc.reflection.v1`), e.g. the mesh's and the user's own. */
  reflection?: PackageDefinition[];
  /** Extra grpc-js server options (message size limits, keepalive, ...). */
  options?: grpc.ServerOptions;
  /** Methods callers without a client certificate may reach (see {@link ServerCredentialsOptions}). */
  credentials?: ServerCredentialsOptions;
}

/** A running mTLS server. */
export interface RunningServer {
  server: grpc.Server;
  /** The bound port (the real one when asked for port 0). */
  port: number;
  /** `host:port` to reach it at. */
  address: string;
  /** The server's `grpc.health.v1.Health`: set a service `NOT_SERVING` to take it out of rotation. */
  health: HealthImplementation;
  /** Stops accepting calls, waits up to `graceMs` for in-flight calls to finish, then cancels the rest. */
  shutdown(graceMs?: number): Promise<void>;
  /**
   * Cancels every call and connection now, and settles a {@link shutdown} under way at once: a graceful shutdown
   * would otherwise wait its whole grace for a peer that cannot close its end (a stopped process).
   */
  forceShutdown(): void;
}

/**
 * Starts a gRPC server over mutual TLS with `identity`, serving `services` beside the standard
 * `grpc.health.v1.Health` (the whole server and every service start `SERVING`) and, when asked, server reflection.
 * @throws MeshError INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const address = options.address ?? '127.0.0.1:0';
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator);
  if (separator <= 0 || !/^\d+$/.test(address.slice(separator + 1))) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid listen address ${quote(address)}: use host:port, e.g. 127.0.0.1:7400`,
    );
  }
  const server = new grpc.Server(options.options);
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const service of options.services) {
    server.addService(service.definition, service.implementation);
    health.setStatus(service.name, 'SERVING');
  }
  health.addToServer(server);
  if (options.reflection && options.reflection.length > 0) {
    new ReflectionService(Object.assign({}, ...options.reflection) as PackageDefinition).addToServer(server);
  }
  const port = await bindServer(
    server,
    address,
    createServerCredentials(options.identity, options.credentials),
  );
  const stopping = createServerShutdown(server);
  return {
    server,
    port,
    address: `${host}:${port}`,
    health,
    shutdown: (graceMs = 5_000) => {
      health.setStatus('', 'NOT_SERVING');
      return stopping.shutdown(graceMs);
    },
    forceShutdown: stopping.force,
  };
}
