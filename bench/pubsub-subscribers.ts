/**
 * The pub/sub benchmark's subscribers, several agents in one process:
 * `tsx bench/pubsub-subscribers.ts <certs-dir> <control-plane address> <first index> <count> <pattern>`.
 * Agent `sink-<i>` subscribes to `<pattern>`. Events of `latency.*` topics carry their publish time in the first 8
 * bytes (ms since the epoch, with sub-millisecond precision) and the handler records their latency. Each agent's
 * `stats` method answers `{ handled, latencies }` (handled: distinct event ids, so a redelivery cannot hide a lost
 * event) and clears the latencies. Prints `ready` once every agent is registered.
 */
import { performance } from 'node:perf_hooks';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const [certsDir, controlPlane, first, count, pattern] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const agents: RunningAgent[] = [];
for (let i = Number(first); i < Number(first) + Number(count); i += 1) {
  const handled = new Set<string>();
  let latencies: number[] = [];
  const name = `sink-${i}`;
  agents.push(
    await startAgent({
      identity: new MeshIdentity(await loadIdentity(certsDir!, name)),
      controlPlane: controlPlane!,
      type: 'sink',
      labels: { instance: name },
      leaseTtlMs: 300_000,
      methods: {
        echo: async (request) => request,
        stats: async () => {
          const answer = { handled: handled.size, latencies };
          latencies = [];
          return { payload: Buffer.from(JSON.stringify(answer)), contentType: 'application/json' };
        },
      },
      subscriptions: [
        {
          pattern: pattern!,
          maxInFlight: 1_000,
          handler: (event) => {
            handled.add(event.id);
            if (event.topic.startsWith('latency.')) latencies.push(now() - event.payload.readDoubleLE(0));
          },
        },
      ],
    }),
  );
}
console.log('ready');
process.on('SIGTERM', () => {
  void Promise.all(agents.map((agent) => agent.drain(0))).finally(() => process.exit(0));
});
