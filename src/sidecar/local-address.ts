import { isAbsolute, normalize } from 'node:path';
import { Code, MeshError, quote } from '../core/errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Longest Unix socket path Linux accepts (`sun_path` holds 108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * A plaintext address of the sidecar's local side: a Unix domain socket (`unix:/abs/path`), which only processes
 * allowed into its directory can open, or a loopback TCP port (`host:port`), which any local process can reach.
 */
export type LocalAddress =
  | {
      kind: 'unix';
      /** The socket file. */ path: string;
      /** `unix:<path>`, as grpc-js takes it. */ address: string;
    }
  | { kind: 'tcp'; /** `host:port` on loopback. */ address: string };

/**
 * Checks that `address` is `host:port` on the loopback interface (127.0.0.1, localhost or [::1]), as the sidecar's
 * plaintext sides must be: the app's port and the outbound port carry no TLS, and the outbound port acts with the
 * agent's identity for whoever reaches it.
 * @returns the address as given.
 * @throws MeshError INVALID_ARGUMENT naming `what`, the problem and an example.
 */
export function loopbackAddress(address: string, what: string): string {
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator);
  const port = address.slice(separator + 1);
  if (separator <= 0 || !/^\d{1,5}$/.test(port) || Number(port) > 65_535) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid ${what} ${quote(address)}: use host:port, e.g. 127.0.0.1:50051, or unix:/absolute/path`,
    );
  }
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the ${what} ${quote(address)} is not on loopback: the sidecar speaks plaintext there, so use 127.0.0.1:<port> ` +
        'or a Unix socket (unix:/absolute/path)',
    );
  }
  return address;
}

/**
 * Reads a local address: `unix:/absolute/path` (a Unix domain socket) or a loopback `host:port`
 * (see {@link loopbackAddress}).
 * @throws MeshError INVALID_ARGUMENT naming `what` for a relative or overlong socket path, or a `host:port` that is
 * malformed or not on loopback.
 */
export function localAddress(address: string, what: string): LocalAddress {
  if (!address.startsWith('unix:')) return { kind: 'tcp', address: loopbackAddress(address, what) };
  const path = address.slice('unix:'.length);
  if (!isAbsolute(path) || path.startsWith('//')) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `invalid ${what} "${address.slice(0, 200)}": a Unix socket is unix:/absolute/path, ` +
        'e.g. unix:/run/user/1000/agent-mesh/app.sock',
    );
  }
  return { kind: 'unix', path: socketPath(normalize(path), what), address: `unix:${normalize(path)}` };
}

/**
 * Checks that `path` fits in a Unix socket address.
 * @returns the path as given.
 * @throws MeshError INVALID_ARGUMENT naming `what` when it is longer than {@link MAX_SOCKET_PATH_BYTES} bytes.
 */
export function socketPath(path: string, what: string): string {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the ${what} "${path.slice(0, 200)}" is ${bytes} bytes long, more than a Unix socket path may be ` +
        `(${MAX_SOCKET_PATH_BYTES}): choose a shorter directory`,
    );
  }
  return path;
}
