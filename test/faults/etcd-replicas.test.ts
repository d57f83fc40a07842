import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, type WatchHandle, type WatchMessage } from '../../src/control-plane/client.js';
import { ensureIdentity } from '../../src/identity/certs-dir.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { etcdBinary, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import {
  callCounts,
  failedCalls,
  logLines,
  makeCertsDir,
  startControlPlaneProcess,
  startWorker,
} from '../helpers/processes.js';
import type { RunningEntryPoint } from '../helpers/run-cli.js';
import { until } from '../helpers/until.js';

const LEASE_MS = 15_000;
const AGENTS = ['caller-1', 'worker-1', 'worker-2', 'worker-3', 'worker-4'];

/**
 * Two control-plane replicas (processes) on a three-member etcd cluster, with agents in their own processes given
 * both replicas' addresses, under a steady load of calls between them. etcd members and replicas are killed; the
 * registry must lose nothing and the calls must not notice.
 */
describe.skipIf(!etcdBinary)('control-plane replicas on a three-member etcd cluster', () => {
  let etcd: EtcdCluster;
  let certs: Awaited<ReturnType<typeof makeCertsDir>>;
  const replicas = new Map<string, RunningEntryPoint>();
  const agents = new Map<string, RunningEntryPoint>();
  const clients: ControlPlaneClient[] = [];
  let observerIdentity: MeshIdentity;

  const startReplica = async (address: string) =>
    replicas.set(
      address,
      await startControlPlaneProcess({ certsDir: certs.dir, listen: address, etcdEndpoints: etcd.endpoints }),
    );
  const clientOf = (address: string) => {
    const client = new ControlPlaneClient({ address, identity: observerIdentity, timeoutMs: 5_000 });
    clients.push(client);
    return client;
  };
  /** The ids of the agents a replica lists. */
  const listed = async (address: string) =>
    (await clientOf(address).discover({ includeUnhealthy: true })).agents.map((agent) => agent.id).sort();
  /** Every removal of an agent a replica's watch reports from its snapshot on; resolves once the snapshot came. */
  const removals = async (address: string): Promise<{ removed: string[]; handle: WatchHandle }> => {
    const removed: string[] = [];
    let opened!: () => void;
    const snapshot = new Promise<void>((resolve) => (opened = resolve));
    const handle = clientOf(address).watch(0, (message: WatchMessage) => {
      if (message.kind === 'snapshot') opened();
      if (message.kind === 'agent' && message.type === 'delete') removed.push(message.record.id);
    });
    await snapshot;
    return { removed, handle };
  };
  /** The replica an agent talks to now: the last one its log names. */
  const attachedTo = (agent: RunningEntryPoint): string | undefined => {
    let at: string | undefined;
    for (const line of logLines(agent.output())) {
      if (line.msg === 'agent running') at = String(line.controlPlane);
      else if (typeof line.at === 'string' && /reachable again|now using/.test(line.msg)) at = line.at;
    }
    return at;
  };
  const caller = () => agents.get('caller-1')!;
  const moreCalls = async (count: number) => {
    const mark = callCounts(caller().output()).ok;
    await until(() => callCounts(caller().output()).ok >= mark + count, `${count} more calls`, 60_000);
  };

  beforeAll(async () => {
    etcd = await startEtcdCluster(3);
    certs = await makeCertsDir();
    const addresses = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    await Promise.all(addresses.map((address) => startReplica(address)));
    observerIdentity = new MeshIdentity(await ensureIdentity(certs.dir, 'observer'));
    const env = { WORKER_LOG_LEVEL: 'info', WORKER_LEASE_MS: String(LEASE_MS) };
    await Promise.all(
      AGENTS.map(async (name) =>
        agents.set(
          name,
          await startWorker({
            certsDir: certs.dir,
            controlPlane: addresses.join(','),
            name,
            type: name.startsWith('caller') ? 'caller' : 'worker',
            env: name.startsWith('caller') ? { ...env, WORKER_CALL: 'worker' } : env,
          }),
        ),
      ),
    );
    await caller().waitFor(/^calling$/m);
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all([...agents.values()].map((agent) => agent.stop('SIGKILL')));
    await Promise.all([...replicas.values()].map((replica) => replica.stop('SIGKILL')));
    await etcd?.stop();
    await certs?.remove();
  });

  it('loses nothing when one etcd member dies', async () => {
    const [first] = replicas.keys();
    const watch = await removals(first!);
    await etcd.members[0]!.kill();
    await moreCalls(300);
    for (const address of replicas.keys())
      expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    // Longer than a lease: heartbeats kept every registration alive through the remaining members.
    await sleep(LEASE_MS + 2_000);
    for (const address of replicas.keys())
      expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    await etcd.members[0]!.start();
    await etcd.healthy(etcd.members[0]!);
    watch.handle.cancel();
    expect(watch.removed).toEqual([]);
    expect(failedCalls(caller().output())).toEqual([]);
  }, 120_000);

  it('loses no registration and no call when the replica most agents use dies', async () => {
    const [a, b] = [...replicas.keys()] as [string, string];
    const on = (address: string) => AGENTS.filter((name) => attachedTo(agents.get(name)!) === address);
    const victim = on(a).length >= on(b).length ? a : b;
    const survivor = victim === a ? b : a;
    const moving = on(victim);
    expect(moving.length).toBeGreaterThan(0);
    const watch = await removals(survivor);

    await replicas.get(victim)!.stop('SIGKILL');
    const killedAt = Date.now();
    for (const name of moving) {
      await until(() => attachedTo(agents.get(name)!) === survivor, `${name} uses the other replica`, 60_000);
    }
    console.log(
      `${moving.length} agents moved to the other replica within ${Date.now() - killedAt} ms of the kill`,
    );
    // Longer than a lease: registrations made through the dead replica live on through the other one.
    await sleep(Math.max(0, killedAt + LEASE_MS + 2_000 - Date.now()));
    expect(await listed(survivor)).toEqual(expect.arrayContaining(AGENTS));
    await moreCalls(200);
    watch.handle.cancel();
    expect(watch.removed).toEqual([]);
    expect(failedCalls(caller().output())).toEqual([]);
    replicas.delete(victim);
    await startReplica(victim);
  }, 120_000);

  it('answers throughout 60 s without etcd quorum, and loses no registration when quorum returns', async () => {
    const addresses = [...replicas.keys()];
    const watches = await Promise.all(addresses.map((address) => removals(address)));
    const logged = new Map(addresses.map((address) => [address, replicas.get(address)!.output().length]));
    await Promise.all([etcd.members[1]!.kill(), etcd.members[2]!.kill()]);
    const lostAt = Date.now();
    // The fault lasts 60 s; meanwhile both replicas are asked every 2 s what they know.
    while (Date.now() - lostAt < 60_000) {
      for (const address of addresses) expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
      await sleep(2_000);
    }
    await Promise.all([etcd.members[1]!.start(), etcd.members[2]!.start()]);
    await Promise.all(etcd.members.map((member) => etcd.healthy(member)));
    const backAt = Date.now();
    // Longer than a lease after quorum returned: had heartbeats not renewed the leases, they would have ended.
    await sleep(LEASE_MS + 2_000);
    for (const address of addresses) expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    await moreCalls(200);
    for (const watch of watches) {
      watch.handle.cancel();
      expect(watch.removed).toEqual([]);
    }
    expect(failedCalls(caller().output())).toEqual([]);
    console.log(`etcd quorum was lost for ${Math.round((backAt - lostAt) / 1000)} s`);
    // The outage is logged, not once per retry of every loop: a handful of lines per replica.
    for (const address of addresses) {
      const lines = logLines(replicas.get(address)!.output().slice(logged.get(address)));
      console.log(`replica ${address}: ${lines.length} log lines\n  ${lines.map((l) => l.msg).join('\n  ')}`);
      expect(lines.length).toBeLessThan(50);
    }
  }, 240_000);
});
