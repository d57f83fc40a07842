import type * as grpc from '@grpc/grpc-js';
import { Code, MeshError } from '../core/errors.js';

/**
 * Binds `server` to `address` with `credentials`, and resolves to the bound port (the real one when asked for port
 * 0). Every server of the mesh binds through here, so a failure reads the same wherever it happens.
 * @throws MeshError UNAVAILABLE when the address cannot be bound.
 */
export function bindServer(
  server: grpc.Server,
  address: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, boundPort) => {
      if (error) {
        reject(
          new MeshError(Code.UNAVAILABLE, `cannot listen on ${address}: ${error.message}`, {
            cause: error,
          }),
        );
      } else {
        resolve(boundPort);
      }
    });
  });
}

/** How a server stops: gracefully within a grace period, or at once. See {@link createServerShutdown}. */
export interface ServerShutdown {
  /** Stops accepting calls, waits up to `graceMs` for in-flight calls to finish, then cancels the rest. */
  shutdown(graceMs: number): Promise<void>;
  /**
   * Cancels every call and connection now, and settles a {@link shutdown} under way at once: a graceful shutdown
   * would otherwise wait its whole grace for a peer that cannot close its end (a stopped process).
   */
  force(): void;
}

/**
 * The one way the mesh stops a grpc-js server: `tryShutdown` raced against a grace timer that forces it, with the
 * shutdowns under way settled by a forced one. The transport's servers and the sidecar's outbound port share it.
 */
export function createServerShutdown(server: grpc.Server): ServerShutdown {
  /** The shutdowns under way, settled at once by a forced one. */
  const settleShutdowns = new Set<() => void>();
  const force = () => {
    server.forceShutdown();
    for (const settle of settleShutdowns) settle();
    settleShutdowns.clear();
  };
  return {
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(force, graceMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        settleShutdowns.add(done);
        server.tryShutdown(done);
      }),
    force,
  };
}
