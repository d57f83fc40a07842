/**
 * Two agents with `handleSignals` in one process, for the drain-on-signal test:
 * `node --import tsx two-agents-on-signal.ts <certs-dir> <control-plane address>`.
 * `held-1` (type `held`) has a method `hold` that answers only after the process receives SIGUSR2; `idle-1` (type
 * `idle`) has nothing to do. It prints `ready` once both are registered, `holding` when a `hold` call is in its
 * handler, and `idle-1 drained` once the idle agent's drain (started by SIGTERM) has ended.
 */
import { startAgent } from '../../src/agent/agent-runtime.js';
import { loadIdentity } from '../../src/identity/certs-dir.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';

const [certsDir, controlPlane] = process.argv.slice(2);
if (!certsDir || !controlPlane) {
  console.error('usage: two-agents-on-signal.ts <certs-dir> <control-plane address>');
  process.exit(2);
}

let release!: () => void;
const released = new Promise<void>((resolve) => (release = resolve));
process.on('SIGUSR2', () => release());

const identity = async (name: string) => new MeshIdentity(await loadIdentity(certsDir, name));
await startAgent({
  identity: await identity('held-1'),
  controlPlane,
  type: 'held',
  handleSignals: true,
  drainGraceMs: 60_000,
  methods: {
    hold: async () => {
      console.log('holding');
      await released;
      return { payload: Buffer.from('released'), contentType: 'text/plain' };
    },
  },
});
const idle = await startAgent({
  identity: await identity('idle-1'),
  controlPlane,
  type: 'idle',
  handleSignals: true,
});
// Registered after the runtime's own handler, so drain() here returns the drain the signal started.
process.once('SIGTERM', () => void idle.drain().then(() => console.log('idle-1 drained')));
console.log('ready');
