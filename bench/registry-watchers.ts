/**
 * The scoped watchers of the registry benchmark, in a process of their own (as agents are): `count` watch streams
 * over the identities `watcher-0` ... in `certsDir`, each following one of `types` types and the type `hot`.
 * Exits with 1 when a stream ends. Prints `ready` once every stream has its snapshot, then `round <n> <ms>` when the last of them has heard of the
 * `hot-1` change labelled `round=<n>`, with the time (ms since the epoch, sub-millisecond) it did.
 *
 * Usage: registry-watchers.ts <control plane> <certs dir> <count> <identities> <types>
 */
import { performance } from 'node:perf_hooks';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { loadIdentity } from '../src/identity/certs-dir.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';

const [address, certsDir, countText, identitiesText, typesText] = process.argv.slice(2);
const count = Number(countText);
const types = Number(typesText);
const clients = await Promise.all(
  Array.from(
    { length: Number(identitiesText) },
    async (_, i) =>
      new ControlPlaneClient({
        address: address!,
        identity: new MeshIdentity(await loadIdentity(certsDir!, `watcher-${i}`)),
      }),
  ),
);
let snapshots = 0;
const heard = new Map<number, number>();
for (let w = 0; w < count; w += 1) {
  let first = true;
  clients[w % clients.length]!.watch(
    0,
    (message) => {
      if (message.kind === 'snapshot' && first) {
        first = false;
        if ((snapshots += 1) === count) console.log('ready');
      }
      if (message.kind !== 'agent' || message.record.id !== 'hot-1') return;
      const round = Number(message.record.spec.labels.round);
      const n = (heard.get(round) ?? 0) + 1;
      heard.set(round, n);
      if (n === count) console.log(`round ${round} ${performance.timeOrigin + performance.now()}`);
    },
    (error) => {
      // A stream that ends would leave its rounds unheard: the benchmark fails rather than wait.
      console.error(`a watch ended: ${error?.message ?? 'by the control plane'}`);
      process.exit(1);
    },
    { scope: { targets: [{ type: `type-${w % types}` }, { type: 'hot' }], agentIds: [], topics: [] } },
  );
}
process.once('SIGTERM', () => {
  for (const client of clients) client.close();
  process.exit(0);
});
