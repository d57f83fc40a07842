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
  let observerIdentity: MeshIdentity;

  /** A client of each replica, kept while the replica lives (a restarted one gets a new client). */
  const clients = new Map<string, ControlPlaneClient>();
  const startReplica = async (address: string) => {
    clients.get(address)?.close();
    clients.delete(address);
    replicas.set(
      address,
      await startControlPlaneProcess({ certsDir: certs.dir, listen: address, etcdEndpoints: etcd.endpoints }),
    );
  };
  const clientOf = (address: string) => {
    let client = clients.get(address);
    if (!client) {
      client = new ControlPlaneClient({ address, identity: observerIdentity, timeoutMs: 5_000 });
      clients.set(address, client);
    }
    return client;
  };
  /**
   * Resolves once every agent's lease has been renewed after `after` (a heartbeat went through some replica since,
   * so its lease ends past `after` plus a lease): the registrations outlive the fault, rather than just not having
   * ended yet.
   */
  const renewedAfter = (after: number) =>
    until(
      async () => {
        const ends = new Map<string, number>();
        for (const address of replicas.keys()) {
          const { agents: found } = await clientOf(address)
            .discover({ includeUnhealthy: true })
            .catch(() => ({ agents: [] }));
          for (const agent of found)
            ends.set(agent.id, Math.max(ends.get(agent.id) ?? 0, agent.leaseExpiresAt));
        }
        return AGENTS.every((id) => (ends.get(id) ?? 0) >= after + LEASE_MS);
      },
      'every lease was renewed after the fault',
      60_000,
    );
  /** The ids of the agents a replica lists. */
  const listed = async (address: string) =>
    (await clientOf(address).discover({ includeUnhealthy: true })).agents.map((agent) => agent.id).sort();
  /** Every removal of an agent a replica's watch reports from its snapshot on; resolves once the snapshot came. */
  const removals = async (
    address: string,
  ): Promise<{ removed: string[]; handle: WatchHandle; ended: () => boolean }> => {
    const removed: string[] = [];
    let ended = false;
    let opened!: () => void;
    let failed!: (error?: Error) => void;
    const snapshot = new Promise<void>((resolve, reject) => {
      opened = resolve;
      failed = (error) => {
        ended = true; // a watch that ended would miss removals: the test checks it did not
        reject(error ?? new Error(`the watch on ${address} ended`));
      };
    });
    const handle = clientOf(address).watch(
      0,
      (message: WatchMessage) => {
        if (message.kind === 'snapshot') opened();
        if (message.kind === 'agent' && message.type === 'delete') removed.push(message.record.id);
      },
      failed, // before the snapshot: the test fails rather than waits; after it, a no-op
    );
    await snapshot;
    return { removed, handle, ended: () => ended };
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
    const start = async (name: string, extra: Record<string, string> = {}) =>
      agents.set(
        name,
        await startWorker({
          certsDir: certs.dir,
          controlPlane: addresses.join(','),
          name,
          type: name.startsWith('caller') ? 'caller' : 'worker',
          env: { ...env, ...extra },
        }),
      );
    // The workers first: a caller started beside them could call before any is registered.
    await Promise.all(AGENTS.filter((name) => !name.startsWith('caller')).map((name) => start(name)));
    await start('caller-1', { WORKER_CALL: 'worker' });
    await caller().waitFor(/^calling$/m);
  }, 180_000);

  afterAll(async () => {
    for (const client of clients.values()) client.close();
    await Promise.all([...agents.values()].map((agent) => agent.stop('SIGKILL')));
    await Promise.all([...replicas.values()].map((replica) => replica.stop('SIGKILL')));
    await etcd?.stop();
    await certs?.remove();
  });

  it('loses nothing when one etcd member dies', async () => {
    const [first] = replicas.keys();
    const watch = await removals(first!);
    await etcd.members[0]!.kill();
    const killedAt = Date.now();
    await moreCalls(300);
    for (const address of replicas.keys())
      expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    // Heartbeats kept every registration alive through the remaining members.
    await renewedAfter(killedAt);
    for (const address of replicas.keys())
      expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    await etcd.members[0]!.start();
    await etcd.healthy(etcd.members[0]!);
    expect(watch.ended()).toBe(false);
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
    // Registrations made through the dead replica live on through the other one.
    await renewedAfter(killedAt);
    expect(await listed(survivor)).toEqual(expect.arrayContaining(AGENTS));
    await moreCalls(200);
    expect(watch.ended()).toBe(false);
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
    // Heartbeats renewed the leases after quorum returned, before any ended.
    await renewedAfter(backAt);
    for (const address of addresses) expect(await listed(address)).toEqual(expect.arrayContaining(AGENTS));
    await moreCalls(200);
    for (const watch of watches) {
      expect(watch.ended()).toBe(false);
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
