/**
 * A benchmark's echo agent in its own process, so that the calling process measures only the client side:
 * `tsx bench/echo-agent.ts <certs-dir> <control-plane address>`. It prints its address when registered and
 * drains on SIGTERM.
 */
import { startAgent } from '../src/agent/agent-runtime.js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const [certsDir, controlPlane] = process.argv.slice(2);
const agent = await startAgent({
  identity: new MeshIdentity(await loadIdentity(certsDir!, 'echo-1')),
  controlPlane: controlPlane!,
  type: 'echo',
  methods: { echo: async (request) => request },
  leaseTtlMs: 300_000,
  handleSignals: true,
});
console.log(`ready ${agent.address}`);
