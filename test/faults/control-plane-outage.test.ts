import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '../../src/control-plane/client.js';
import { EndpointCache } from '../../src/data-plane/endpoint-cache.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ensureIdentity } from '../../src/identity/certs-dir.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { freePort } from '../helpers/ports.js';
import {
  callCounts,
  failedCalls,
  logLines,
  makeCertsDir,
  residentBytes,
  startControlPlaneProcess,
  startWorker,
} from '../helpers/processes.js';
import type { RunningEntryPoint } from '../helpers/run-cli.js';
import { until } from '../helpers/until.js';

/** How long the control plane stays dead: the fault itself, not a wait for anything. */
const OUTAGE_MS = 30_000;
/** How long it is stopped (SIGSTOP): longer than the agents' leases. */
const STOP_MS = 20_000;
const LOGS = { WORKER_LOG_LEVEL: 'info', WORKER_LEASE_MS: '15000' };

/**
 * Static stability, measured: agents in their own processes call each other under steady load while their
 * in-memory control plane is killed (SIGKILL), stays away for 30 s, and comes back on the same port with an empty
 * store. Nothing may fail, grow or flood the logs, and every agent must register again by itself.
 */
describe('a mesh whose control plane is killed for 30 s and restarted with an empty store', () => {
  let certs: Awaited<ReturnType<typeof makeCertsDir>>;
  let address: string;
  let controlPlane: RunningEntryPoint;
  const agents = new Map<string, RunningEntryPoint>();
  let observer: ControlPlaneClient | undefined;

  beforeAll(async () => {
    certs = await makeCertsDir();
    address = `127.0.0.1:${await freePort()}`;
    controlPlane = await startControlPlaneProcess({ certsDir: certs.dir, listen: address });
    const start = async (name: string, type: string, env: Record<string, string> = {}) =>
      agents.set(
        name,
        await startWorker({
          certsDir: certs.dir,
          controlPlane: address,
          name,
          type,
          env: { ...LOGS, ...env },
        }),
      );
    await Promise.all([
      start('worker-1', 'worker'),
      start('worker-2', 'worker'),
      start('worker-3', 'worker'),
      // Stopped with SIGTERM while the control plane is away: it must drain and exit within its grace period.
      start('leaver-1', 'worker', { WORKER_DRAIN_MS: '3000' }),
    ]);
    await start('caller-1', 'caller', { WORKER_CALL: 'worker' });
    observer = new ControlPlaneClient({
      address,
      identity: new MeshIdentity(await ensureIdentity(certs.dir, 'observer')),
    });
  }, 120_000);

  afterAll(async () => {
    observer?.close();
    await Promise.all([...agents.values()].map((agent) => agent.stop('SIGKILL')));
    await controlPlane?.stop('SIGKILL');
    await certs?.remove();
  });

  it('keeps every registration and call while the control plane is stopped for longer than a lease', async () => {
    const caller = agents.get('caller-1')!;
    await caller.waitFor(/^calling$/m);
    // A watcher that reconnects (an endpoint cache) and notes every agent it sees removed.
    const cache = new EndpointCache({ client: observer!, logger: silentLogger() });
    const removed: string[] = [];
    cache.onChange((change, id) => {
      if (change === 'agent' && id && !cache.get(id)) removed.push(id);
    });
    await cache.start();
    const logged = new Map([...agents].map(([name, agent]) => [name, agent.output().length]));
    controlPlane.signal('SIGSTOP');
    await sleep(STOP_MS); // the fault itself
    controlPlane.signal('SIGCONT');
    // Resumed, its lease timers are long overdue; the leases must not end for the time it did not run.
    await until(
      async () =>
        await observer!.getPolicies().then(
          () => true,
          () => false,
        ),
      'the control plane answers again',
      60_000,
    );
    const mark = callCounts(caller.output()).ok;
    await until(() => callCounts(caller.output()).ok >= mark + 100, '100 more calls', 60_000);
    await until(() => !observer!.unreachable, 'the observer follows the control plane again', 60_000);
    const { agents: listed } = await observer!.discover({ includeUnhealthy: true });
    cache.close();
    expect(removed).toEqual([]);
    for (const [name, agent] of agents) {
      expect(agent.output().slice(logged.get(name)), name).not.toMatch(/registration lost/);
    }
    expect(listed.map((agent) => agent.id).sort()).toEqual([...agents.keys()].sort());
    expect(failedCalls(caller.output())).toEqual([]);
  }, 120_000);

  it('keeps every call working, stays small and quiet, drains on SIGTERM, and registers again by itself', async () => {
    const caller = agents.get('caller-1')!;
    await caller.waitFor(/^calling$/m);
    await until(() => callCounts(caller.output()).ok >= 200, 'the caller has warmed up', 60_000);
    const before = new Map([...agents].map(([name, agent]) => [name, residentBytes(agent.pid)]));
    const logged = new Map([...agents].map(([name, agent]) => [name, agent.output().length]));

    await controlPlane.stop('SIGKILL');
    const killedAt = Date.now();
    // Once it has noticed the outage, an agent is stopped: it must drain and exit within its grace all the same.
    const leaver = agents.get('leaver-1')!;
    await until(
      () => /control plane (still )?unreachable/.test(leaver.output().slice(logged.get('leaver-1'))),
      'the leaver noticed the outage',
      30_000,
    );
    leaver.signal('SIGTERM');
    // Exit code 0 means the drain finished: past its grace period (plus 2 s) the process exits 1 instead.
    expect(await leaver.exited()).toBe(0);
    expect(leaver.output()).toMatch(/agent drained and stopped/);
    agents.delete('leaver-1');
    await sleep(Math.max(0, killedAt + OUTAGE_MS - Date.now()));
    const during = new Map([...agents].map(([name, agent]) => [name, residentBytes(agent.pid)]));
    const callsDuringOutage = callCounts(caller.output()).ok;

    controlPlane = await startControlPlaneProcess({ certsDir: certs.dir, listen: address });
    const restartedAt = Date.now();
    const expected = ['caller-1', 'worker-1', 'worker-2', 'worker-3'];
    await until(
      async () => {
        const { agents: listed } = await observer!.discover({ includeUnhealthy: true }).catch(() => ({
          agents: [],
        }));
        return expected.every((id) => listed.some((agent) => agent.id === id));
      },
      'every agent has registered again',
      60_000,
    );
    console.log(
      `every agent registered again ${Date.now() - restartedAt} ms after the control plane returned`,
    );
    // Once the new control plane's snapshots are complete, the callers' view is its view: calls go on.
    await controlPlane.waitFor(/registry settled/, 60_000);
    const settled = callCounts(caller.output()).ok;
    await until(() => callCounts(caller.output()).ok >= settled + 100, 'calls after the settle', 60_000);
    expect(await caller.stop('SIGTERM')).toBe(0);

    expect(failedCalls(caller.output())).toEqual([]);
    expect(callCounts(caller.output()).failed).toBe(0);
    expect(callsDuringOutage).toBeGreaterThan(200); // the load went on throughout
    for (const [name, agent] of agents) {
      const lines = logLines(agent.output().slice(logged.get(name)));
      console.log(
        `${name}: memory ${(during.get(name)! / before.get(name)!).toFixed(2)}x, ${lines.length} log lines:\n  ${lines.map((line) => line.msg).join('\n  ')}`,
      );
    }
    for (const [name, agent] of agents) {
      expect(during.get(name)!, `${name}'s memory during the outage`).toBeLessThan(1.5 * before.get(name)!);
      const lines = logLines(agent.output().slice(logged.get(name)));
      const aboutOutage = lines.filter((line) => !/drained|draining|stopped/.test(line.msg));
      expect(
        aboutOutage.length,
        `${name}'s log lines:\n${aboutOutage.map((l) => l.msg).join('\n')}`,
      ).toBeLessThan(20);
    }
  }, 240_000);
});
