import { TLSSocket } from 'node:tls';

const MAX_DEPTH = 8;

/**
 * Finds the TLS socket under a grpc-js server call, so that a peer's certificate is verified once per connection
 * instead of once per call (`getAuthContext()` asks Node to rebuild the whole peer certificate object on every call,
 * which costs more than the rest of a small call). grpc-js does not expose the socket, so this follows its
 * internal links (`call` -> `nextCall` -> `stream.session.socket`); when they are not there, it returns
 * undefined and the caller falls back to `getAuthContext()`: slower, equally correct.
 */
export function tlsSocketOf(call: unknown): TLSSocket | undefined {
  let node = call as Record<string, unknown> | undefined;
  for (let depth = 0; node && depth < MAX_DEPTH; depth += 1) {
    const socket = (node.stream as { session?: { socket?: unknown } } | undefined)?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    node = (node.nextCall ?? node.call) as Record<string, unknown> | undefined;
  }
  return undefined;
}
