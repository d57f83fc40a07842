import { Code, MeshError } from '../errors.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

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
      `invalid ${what} "${address}": use host:port, e.g. 127.0.0.1:50051`,
    );
  }
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new MeshError(
      Code.INVALID_ARGUMENT,
      `the ${what} "${address}" is not on loopback: the sidecar speaks plaintext there, so use 127.0.0.1:<port>`,
    );
  }
  return address;
}
