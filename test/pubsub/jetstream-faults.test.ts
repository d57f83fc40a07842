import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { ensureIdentity } from '../../src/identity/certs-dir.js';
import type { ReceivedEvent } from '../../src/pubsub/event.js';
import { EVENT_STREAM } from '../../src/nats/subjects.js';
import { natsBinary, startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { makeCertsDir, startControlPlaneProcess } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { spawnScript, type RunningEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

const WORKER = fileURLToPath(new URL('../fixtures/agents/worker-agent.ts', import.meta.url));

/**
 * The event ids a worker printed, in order: `published <id> <sequence>`, `handled <id>` or `publish retried <id>:`
 * lines (a line cut short by a SIGKILL does not count).
 */
function printed(worker: RunningEntryPoint, what: 'published' | 'handled' | 'publish retried'): string[] {
  const line = {
    published: /^published (\S+) \d+$/gm,
    handled: /^handled (\S+)$/gm,
    'publish retried': /^publish retried (\S+):/gm,
  };
  return [...worker.output().matchAll(line[what])].map((m) => m[1]!);
}

/**
 * Faults against durable events, each part a real process: a publisher killed with SIGKILL right after its
 * publishes resolved, a subscriber killed mid-stream and restarted, one of three NATS nodes killed during a publish
 * loop. Every event whose publish resolved is counted at the subscriber: none may be missing (duplicates are
 * allowed, and counted).
 */
describe.skipIf(!natsBinary)('durable events when processes and NATS nodes die', () => {
  let certs: { dir: string; remove(): Promise<void> };
  let nats: NatsCluster;
  let mesh: TestMesh;
  const agents: RunningAgent[] = [];
  const workers: RunningEntryPoint[] = [];

  const worker = async (name: string, type: string, env: Record<string, string>) => {
    await ensureIdentity(certs.dir, name, { types: [type] });
    const started = spawnScript(WORKER, [certs.dir, mesh.controlPlane.address, name, type], env);
    workers.push(started);
    return started;
  };

  /** An in-process subscriber that records every event id it handled, with how often. */
  const recorder = async (name: string, pattern: string) => {
    const counts = new Map<string, number>();
    const agent = await startAgent({
      identity: await mesh.identity(name),
      controlPlane: mesh.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      subscriptions: [
        {
          pattern,
          handler: (event: ReceivedEvent) => void counts.set(event.id, (counts.get(event.id) ?? 0) + 1),
        },
      ],
    });
    agents.push(agent);
    return { agent, counts };
  };

  beforeAll(async () => {
    certs = await makeCertsDir();
    nats = await startNatsCluster({ size: 3, certsDir: certs.dir });
    // A short ack deadline: what a killed subscriber held is redelivered within seconds, not the default 30 s.
    mesh = await startTestMesh({ certsDir: certs.dir, events: { servers: nats.urls, ackWaitMs: 5_000 } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(agents.map((a) => a.drain(0)));
    await mesh?.close();
    await nats?.stop();
    await certs?.remove();
  });

  it('loses no event of a publisher killed with SIGKILL right after its publishes resolved', async () => {
    const { counts } = await recorder('archive-1', 'orders.>');
    const publisher = await worker('shop-1', 'shop', {
      WORKER_PUBLISH: 'orders.placed',
      WORKER_PUBLISH_COUNT: '100000',
      WORKER_PUBLISH_KEYS: '10',
    });
    // Killed while publishing, as soon as 300 publishes resolved: at once, nothing drained or flushed.
    await publisher.waitFor(/^published shop-1-299 /m, 60_000);
    await publisher.stop('SIGKILL');
    const accepted = printed(publisher, 'published');
    expect(accepted.length).toBeGreaterThanOrEqual(300);
    await until(
      () => accepted.every((id) => counts.has(id)),
      'every accepted event at the subscriber',
      60_000,
    );
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    console.log(`publisher killed: ${accepted.length} accepted, 0 lost, ${duplicates} delivered twice`);
  });

  it('gives a subscriber killed mid-stream and restarted every event', async () => {
    const env = { WORKER_SUBSCRIBE: 'invoices.>', WORKER_HANDLE_MS: '2' };
    // The first process finishes 50 events and holds the rest unfinished: it is surely mid-stream when it is
    // killed, however fast the machine (without that, a fast one could handle all 400 first).
    const first = await worker('billing-1', 'billing', { ...env, WORKER_STALL_AFTER: '50' });
    await first.waitFor(/^ready /m);
    const publisher = await startAgent({
      identity: await mesh.identity('issuer-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'issuer',
    });
    agents.push(publisher);
    const ids: string[] = [];
    for (let i = 0; i < 400; i += 1) ids.push((await publisher.publish('invoices.issued', { i })).eventId);
    await first.waitFor(/^handled /m);
    await until(() => printed(first, 'handled').length >= 50, 'the first subscriber handled its 50 events');
    await first.stop('SIGKILL');
    const before = new Set(printed(first, 'handled'));
    expect(before.size).toBeLessThan(ids.length);

    const second = await worker('billing-1', 'billing', env);
    await until(
      () => ids.every((id) => before.has(id) || printed(second, 'handled').includes(id)),
      'every event handled by one of the two processes',
      60_000,
    );
    const again = printed(second, 'handled').filter((id) => before.has(id)).length;
    console.log(
      `subscriber restarted: ${ids.length} events, 0 lost, ${again} handled again after the restart`,
    );
  });

  it('comes back after a control plane outage longer than the NATS credentials last, losing nothing', async () => {
    // A control plane of its own, in its own process, whose agents' credentials last 5 s (renewed at about 3 s).
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const flags = ['--events', nats.urls.join(','), '--event-credential-ttl', '5s'];
    let controlPlane = await startControlPlaneProcess({ certsDir: certs.dir, listen, flags });
    try {
      const join = async (name: string, options: Partial<Parameters<typeof startAgent>[0]> = {}) => {
        const started = await startAgent({
          identity: await mesh.identity(name),
          controlPlane: listen,
          type: name.replace(/-\d+$/, ''),
          ...options,
        });
        agents.push(started);
        return started;
      };
      const handled = new Set<string>();
      await join('ledger-1', {
        subscriptions: [{ pattern: 'payouts.*', handler: (event) => void handled.add(event.id) }],
      });
      const publisher = await join('payroll-1');
      const accepted: string[] = [];
      let failed = 0;
      let stopping = false;
      const loop = (async () => {
        for (let i = 0; !stopping; i += 1) {
          try {
            accepted.push(
              (await publisher.publish('payouts.sent', { i }, { eventId: `payout-${i}` })).eventId,
            );
          } catch {
            failed += 1;
            i -= 1; // the same event again, under the same id
          }
        }
      })();
      await until(() => accepted.length >= 50, 'publishes going on', 30_000);
      await controlPlane.stop('SIGKILL');
      // The credentials expire while the control plane is away: NATS cuts the agents off.
      await until(() => failed > 0, 'NATS refusing the expired credentials', 60_000);
      const beforeRestart = accepted.length;
      controlPlane = await startControlPlaneProcess({ certsDir: certs.dir, listen, flags });
      await until(() => accepted.length >= beforeRestart + 50, 'publishes going on again', 90_000);
      stopping = true;
      await loop;
      await until(() => accepted.every((id) => handled.has(id)), 'every accepted event handled', 60_000);
      console.log(
        `control plane away past the credentials: ${accepted.length} accepted, 0 lost, ${failed} publishes retried`,
      );
    } finally {
      await controlPlane.stop('SIGKILL');
    }
  });

  it('loses no acknowledged event when one of three NATS nodes is killed during a publish loop', async () => {
    const { counts } = await recorder('journal-1', 'ledger.>');
    const publisher = await worker('teller-1', 'teller', {
      WORKER_PUBLISH: 'ledger.entry',
      WORKER_PUBLISH_COUNT: '600',
    });
    await publisher.waitFor(/^published teller-1-100 /m, 60_000);
    // The stream's leader: the node every publish goes through.
    const stream = await (await mesh.controlPlane.eventStore!.manager()).streams.info(EVENT_STREAM);
    const victim = nats.nodes.find((node) => node.name === stream.cluster?.leader)!;
    expect(victim).toBeDefined();
    await victim.kill();
    await publisher.waitFor(/^published all$/m, 120_000);
    const accepted = printed(publisher, 'published');
    expect(new Set(accepted).size).toBe(600);
    await until(
      () => accepted.every((id) => counts.has(id)),
      'every acknowledged event at the subscriber',
      60_000,
    );
    const retried = printed(publisher, 'publish retried').length;
    console.log(`node killed: 600 acknowledged, 0 lost, ${retried} publishes retried`);
    await victim.start();
    await nats.ready(victim);
  });
});
