import * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { Code, MeshError, quote } from '../core/errors.js';
import {
  MESH_SERVER_OPTIONS,
  checkedHandler,
  serverTls,
  type ServerCredentialsOptions,
} from './credentials.js';
import type { MeshIdentity } from './mesh-identity.js';
import { bindServer, createServerShutdown } from './server-lifecycle.js';

/** A service to serve: its definition (from generated stubs) and its handlers. */
export interface ServiceRegistration {
  /** Fully qualified service name, e.g. `agentmesh.v1.Agent`, under which health is reported. */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /**
   * Whether every handler verifies its caller's certificate itself (those served through the server pipeline do,
   * at its edge): the server then adds no check of its own. Default: the server checks every call first.
   */
  verifiesPeers?: boolean;
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
  const server = new grpc.Server({ ...MESH_SERVER_OPTIONS, ...options.options });
  const anonymous = new Set(options.credentials?.anonymousMethods ?? []);
  // Every call's peer is checked once, in its handler, rather than by a grpc-js interceptor as well.
  const checked = checkedServer(server, options.identity, anonymous);
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const service of options.services) {
    if (service.verifiesPeers) server.addService(service.definition, service.implementation);
    else checked.addService(service.definition, service.implementation);
    health.setStatus(service.name, 'SERVING');
  }
  health.addToServer(checked as grpc.Server);
  if (options.reflection && options.reflection.length > 0) {
    new ReflectionService(Object.assign({}, ...options.reflection) as PackageDefinition).addToServer(
      checked as grpc.Server,
    );
  }
  const port = await bindServer(server, address, serverTls(options.identity, anonymous.size === 0));
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

/**
 * What adds services to `server` with each handler checking its caller first ({@link checkedHandler}), but those
 * of the methods in `anonymous` (their handlers authenticate callers some other way).
 */
function checkedServer(
  server: grpc.Server,
  identity: MeshIdentity,
  anonymous: ReadonlySet<string>,
): Pick<grpc.Server, 'addService'> {
  return {
    addService(definition, implementation) {
      server.addService(
        definition,
        mapHandlers(definition, implementation, (method, handler) =>
          anonymous.has(method.path) ? handler : checkedHandler(identity, method, handler),
        ),
      );
    },
  };
}

/**
 * The handlers of a service's methods, each wrapped by `wrap`, keyed by the definition's method names. A handler
 * is found by the method's name or by its `originalName` (the lower-camel-case name proto-loader also accepts),
 * as grpc-js finds it: wrapping only the names an implementation happens to use would leave the others unwrapped.
 */
export function mapHandlers(
  definition: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
  wrap: (
    method: grpc.MethodDefinition<unknown, unknown>,
    handler: grpc.UntypedHandleCall,
    name: string,
  ) => grpc.UntypedHandleCall,
): grpc.UntypedServiceImplementation {
  const wrapped: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler =
      implementation[name] ??
      (typeof method.originalName === 'string' ? implementation[method.originalName] : undefined);
    if (handler) wrapped[name] = wrap(method, handler, name);
  }
  return wrapped;
}
