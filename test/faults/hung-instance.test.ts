import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../src/core/agent-record.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { startWorker } from '../helpers/processes.js';
import type { RunningEntryPoint } from '../helpers/run-cli.js';
import { startCaller, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

interface AttemptSeen {
  callee: string;
  method: string;
  startedAt: number;
  endedAt: number;
  code: number;
}

/**
 * A hung instance: a worker process stopped with SIGSTOP keeps its TCP connections open, so only keepalive pings
 * tell that it is gone. Under steady idempotent load nothing may fail, the instance must be passed over once its
 * connection is found dead, and calls whose callers were told DEADLINE_EXCEEDED must not run when it resumes.
 */
describe('a mesh with an instance that hangs (SIGSTOP) under load', () => {
  let mesh: TestMesh;
  let caller: Awaited<ReturnType<typeof startCaller>>;
  const workers = new Map<string, RunningEntryPoint>();
  const attempts: AttemptSeen[] = [];

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['worker-1', 'worker-2', 'worker-3']) {
      workers.set(
        name,
        await startWorker({ certsDir: mesh.certsDir, controlPlane: mesh.controlPlane.address, name }),
      );
    }
    const seen = (callee: AgentRecord, method: string, code: number, ms: number) => {
      const endedAt = performance.now();
      attempts.push({ callee: callee.id, method, startedAt: endedAt - ms, endedAt, code });
    };
    caller = await startCaller(mesh, 'caller', {
      observer: {
        attempt: (callee, method, code, ms) => seen(callee, method, code, ms),
        retry: () => undefined,
        failover: () => undefined,
        ejection: () => undefined,
        unrouted: () => undefined,
      },
    });
    await until(() => caller.cache.select({ type: 'worker' }).length === 3, 'three workers are listed');
  }, 120_000);

  afterAll(async () => {
    workers.get('worker-3')?.signal('SIGCONT');
    caller?.close();
    await Promise.all([...workers.values()].map((worker) => worker.stop('SIGKILL')));
    await mesh?.close();
  });

  it('fails no idempotent call, passes the hung instance over, and never runs a call whose caller gave up', async () => {
    let stopping = false;
    const failures: string[] = [];
    let completed = 0;
    const load = async () => {
      while (!stopping) {
        // Round-robin: unlike the default balancer, it would keep sending a third of the calls to a slow instance.
        await caller.client
          .call({ type: 'worker' }, 'whoami', '', { idempotent: true, balancer: 'round-robin' })
          .then(
            () => (completed += 1),
            (error: unknown) => failures.push(MeshError.from(error).message),
          );
      }
    };
    const loops = Array.from({ length: 8 }, () => load());
    const served = (id: string) => attempts.filter((a) => a.callee === id && a.code === Code.OK).length;
    await until(
      () => ['worker-1', 'worker-2', 'worker-3'].every((id) => served(id) >= 50),
      'warm-up',
      60_000,
    );

    const hung = workers.get('worker-3')!;
    hung.signal('SIGSTOP');
    const stoppedAt = performance.now();
    // Non-idempotent calls to the hung instance itself, each told DEADLINE_EXCEEDED after 1 s.
    const toldDeadline: string[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        caller.client
          .call({ type: 'worker', labelSelector: 'instance=worker-3' }, 'record', `given-up-${i}`, {
            timeoutMs: 1_000,
          })
          .then(
            () => expect.fail('a call to a stopped process cannot succeed'),
            (error: unknown) => {
              if (MeshError.from(error).code === Code.DEADLINE_EXCEEDED) toldDeadline.push(`given-up-${i}`);
            },
          ),
      ),
    );
    expect(toldDeadline.length).toBeGreaterThan(0);
    // The load goes on until plenty of calls have completed without the hung instance.
    const atHung = (a: AttemptSeen) => a.callee === 'worker-3' && a.method === 'whoami';
    const lost = () => attempts.find((a) => atHung(a) && a.code !== Code.OK && a.endedAt > stoppedAt);
    await until(
      () => lost() !== undefined,
      'a call at the hung instance failed (its connection was found dead)',
      60_000,
    );
    const mark = completed;
    await until(() => completed >= mark + 2_000, '2,000 more calls', 120_000);
    stopping = true;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    const detectedAt = lost()!.endedAt;
    const afterDetection = attempts.filter((a) => atHung(a) && a.startedAt > detectedAt);
    const lastAttempt = Math.max(...attempts.filter(atHung).map((a) => a.startedAt));
    console.log(
      `hung instance: connection found dead ${Math.round(detectedAt - stoppedAt)} ms after SIGSTOP; last attempt sent to it ${Math.round(lastAttempt - stoppedAt)} ms after SIGSTOP`,
    );
    expect(afterDetection).toEqual([]);

    // Resumed, it reads the requests that waited in its socket: the ones whose callers gave up must not run.
    hung.signal('SIGCONT');
    await until(
      async () =>
        caller.client
          .call({ type: 'worker', labelSelector: 'instance=worker-3' }, 'whoami', '', { timeoutMs: 2_000 })
          .then(
            () => true,
            () => false,
          ),
      'the resumed instance answers again',
      60_000,
    );
    for (const id of toldDeadline) expect(hung.output()).not.toContain(`ran ${id}`);
  }, 240_000);
});
