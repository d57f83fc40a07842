/**
 * The agent of the gateway benchmark (bench/gateway.ts), in a process of its own: `tsx bench/gateway-agent.ts
 * <certs-dir> <control-plane>`. Agent `tools-1` (type `tools`) offers the skill `echo`, which answers its JSON
 * input as it came. Prints `ready` once registered.
 */
import { startAgent } from '../src/agent/agent-runtime.js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const [certsDir, controlPlane] = process.argv.slice(2);
const agent = await startAgent({
  identity: new MeshIdentity(await loadIdentity(certsDir!, 'tools-1')),
  controlPlane: controlPlane!,
  type: 'tools',
  leaseTtlMs: 300_000,
  skills: [
    {
      id: 'echo',
      description: 'answers its input',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
      handler: async (request) => ({ payload: request.payload, contentType: 'application/json' }),
    },
  ],
});
console.log('ready');
process.on('SIGTERM', () => void agent.drain(0).finally(() => process.exit(0)));
