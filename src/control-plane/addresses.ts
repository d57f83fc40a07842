import { Code, fail, ok, type Result } from '../core/errors.js';
import { validEndpoint } from '../core/agent-record.js';

/** A grpc-js target with a scheme (`dns:`, `unix:`, `ipv4:`, `ipv6:`), passed on as it is. */
const SCHEME_TARGET = /^(dns|unix|unix-abstract|ipv4|ipv6):/;

/**
 * Reads the control-plane addresses an agent, sidecar or CLI is given: one `host:port`, several separated by
 * commas (`cp-a:7400,cp-b:7400`, the form of `--control-plane` and `AGENT_MESH_CONTROL_PLANE`), or a list. Each
 * entry is a replica of the same control plane; a client moves to another when its replica fails.
 * @returns the addresses in the order given, or INVALID_ARGUMENT naming the entry that is wrong.
 */
export function parseControlPlaneAddresses(value: string | readonly string[]): Result<string[]> {
  const entries = typeof value === 'string' ? value.split(',') : [...value];
  const addresses = entries.map((entry) => entry.trim());
  if (addresses.length === 0 || addresses.every((address) => address === '')) {
    return fail(Code.INVALID_ARGUMENT, 'no control-plane address given: use host:port, e.g. 127.0.0.1:7400');
  }
  for (const address of addresses) {
    if (address === '') {
      return fail(
        Code.INVALID_ARGUMENT,
        `the control-plane address list "${String(value).slice(0, 200)}" has an empty entry: separate replicas with single commas, e.g. cp-a:7400,cp-b:7400`,
      );
    }
    if (SCHEME_TARGET.test(address)) continue;
    if (!validEndpoint(address)) {
      return fail(
        Code.INVALID_ARGUMENT,
        `invalid control-plane address "${address.slice(0, 200)}": use host:port with a port from 1 to 65535, e.g. 127.0.0.1:7400`,
      );
    }
  }
  if (new Set(addresses).size !== addresses.length) {
    return fail(
      Code.INVALID_ARGUMENT,
      `the control-plane address list names a replica twice: ${addresses.join(',')}`,
    );
  }
  return ok(addresses);
}
