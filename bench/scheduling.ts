/**
 * Agent-native call paths:
 * - time to first token: a streamed call whose handler yields its first chunk at once and then one every 2 ms,
 *   through the mesh client against a direct grpc-js mTLS `InvokeStream` to the same agent (the baseline),
 *   alternating, sequentially; p50/p99 of the time to the first chunk;
 * - scheduling under 2x overload: an agent taking 4 calls at once, each 10 ms (capacity 400 calls/s), offered
 *   800 calls/s for 5 s, a quarter interactive (half the capacity) and the rest batch, each with a 2 s deadline; per class the p50/p99 time
 *   spent waiting in the agent's queue (latency minus service time) of the calls that ran, and how many ran,
 *   expired in the queue or were refused. Batch is the baseline the interactive class is measured against.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type RunningAgent } from '../src/agent/agent-runtime.js';
import { ControlPlaneClient } from '../src/control-plane/client.js';
import { ensureIdentity, loadIdentity } from '../src/identity/certs-dir.js';
import { MeshError } from '../src/core/errors.js';
import { MeshIdentity } from '../src/transport/mesh-identity.js';
import { directAgentClient, percentile } from './baseline.js';
import { startBenchMesh } from './setup.js';

type Figures = Record<string, number>;
const SERVICE_MS = 10;
const CONCURRENCY = 4;
const OFFERED_PER_SECOND = 2 * (CONCURRENCY * (1000 / SERVICE_MS));
const OVERLOAD_SECONDS = 5;
const STREAM_CALLS = 1_000;

export async function benchScheduling(): Promise<Figures> {
  const bench = await startBenchMesh();
  const agents: RunningAgent[] = [];
  const start = async (name: string, options: Partial<Parameters<typeof startAgent>[0]>) => {
    const agent = await startAgent({
      identity: new MeshIdentity(
        await ensureIdentity(bench.certsDir, name, { types: [name.replace(/-\d+$/, '')] }),
      ),
      controlPlane: bench.controlPlane.address,
      type: name.replace(/-\d+$/, ''),
      ...options,
    });
    agents.push(agent);
    return agent;
  };
  try {
    await start('tokens-1', {
      streams: {
        generate: async function* () {
          for (let i = 0; i < 5; i += 1) {
            yield { payload: Buffer.from(`token-${i} `), contentType: 'text/plain' };
            await sleep(2);
          }
        },
      },
    });
    await start('llm-1', {
      maxConcurrency: CONCURRENCY,
      maxQueue: 100_000,
      methods: {
        complete: async (request) => {
          await sleep(SERVICE_MS);
          return request;
        },
      },
    });
    // The caller's interactive calls run as such only with a grant: priority is granted, not claimed.
    const admin = new ControlPlaneClient({
      address: bench.controlPlane.address,
      identity: new MeshIdentity(await loadIdentity(bench.certsDir, 'control-plane')),
    });
    await admin.setPolicies({
      defaultEffect: 'allow',
      rules: [],
      grants: [
        { id: 'caller-first', callers: [], callerTypes: ['caller'], types: [], priority: 'interactive' },
      ],
    });
    admin.close();
    while (!agents[1]!.cache.policies.grants?.length) await sleep(20);
    const callerMaterial = await ensureIdentity(bench.certsDir, 'caller-1', { types: ['caller'] });
    const caller = await start('caller-1', {});
    while (!caller.cache.get('tokens-1') || !caller.cache.get('llm-1')) await sleep(20);
    return { ...(await timeToFirstToken(caller, callerMaterial)), ...(await overload(caller)) };
  } finally {
    await Promise.all(agents.map((agent) => agent.drain(0)));
    await bench.close();
  }
}

async function timeToFirstToken(
  caller: RunningAgent,
  material: Parameters<typeof directAgentClient>[1],
): Promise<Figures> {
  const direct = directAgentClient(caller.cache.get('tokens-1')!.spec.endpoint, material);
  const viaDirect = () =>
    new Promise<number>((resolve, reject) => {
      const t = performance.now();
      let first = 0;
      const call = direct.InvokeStream({ method: 'generate', payload: Buffer.alloc(0), contentType: '' });
      call.on('data', () => (first ||= performance.now() - t));
      call.on('end', () => resolve(first));
      call.on('error', reject);
    });
  const viaMesh = async () => {
    const t = performance.now();
    let first = 0;
    for await (const _chunk of caller.mesh.stream({ type: 'tokens' }, 'generate', '')) {
      first ||= performance.now() - t;
    }
    return first;
  };
  try {
    const meshTimes: number[] = [];
    const directTimes: number[] = [];
    for (let i = 0; i < 100; i += 1) await Promise.all([viaMesh(), viaDirect()]); // warm up
    for (let i = 0; i < STREAM_CALLS; i += 1) {
      if (i % 2 === 0) {
        meshTimes.push(await viaMesh());
        directTimes.push(await viaDirect());
      } else {
        directTimes.push(await viaDirect());
        meshTimes.push(await viaMesh());
      }
    }
    meshTimes.sort((a, b) => a - b);
    directTimes.sort((a, b) => a - b);
    return {
      firstTokenDirectP50Ms: percentile(directTimes, 50),
      firstTokenMeshP50Ms: percentile(meshTimes, 50),
      firstTokenDirectP99Ms: percentile(directTimes, 99),
      firstTokenMeshP99Ms: percentile(meshTimes, 99),
    };
  } finally {
    direct.close();
  }
}

async function overload(caller: RunningAgent): Promise<Figures> {
  const waits = { interactive: [] as number[], batch: [] as number[] };
  const outcomes = {
    interactive: { ran: 0, expired: 0, refused: 0 },
    batch: { ran: 0, expired: 0, refused: 0 },
  };
  const calls: Promise<void>[] = [];
  const refusals = new Map<number, number>();
  const total = OFFERED_PER_SECOND * OVERLOAD_SECONDS;
  const begin = performance.now();
  for (let i = 0; i < total; i += 1) {
    const due = begin + (i * 1000) / OFFERED_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const priority = i % 4 === 0 ? 'interactive' : 'batch';
    const t = performance.now();
    calls.push(
      caller.mesh
        .call({ type: 'llm' }, 'complete', '', { priority, timeoutMs: 2_000, idempotent: false })
        .then(
          () => {
            outcomes[priority].ran += 1;
            waits[priority].push(Math.max(0, performance.now() - t - SERVICE_MS));
          },
          (error: unknown) => {
            const code = error instanceof MeshError ? error.code : -1;
            if (code === 4) outcomes[priority].expired += 1;
            else {
              outcomes[priority].refused += 1;
              refusals.set(code, (refusals.get(code) ?? 0) + 1);
              if (refusals.get(code) === 1) console.error('first other failure:', (error as Error).message);
            }
          },
        ),
    );
  }
  await Promise.all(calls);
  if (refusals.size > 0) console.error('other failures by gRPC code', Object.fromEntries(refusals));
  waits.interactive.sort((a, b) => a - b);
  waits.batch.sort((a, b) => a - b);
  return {
    offeredCallsPerSecond: OFFERED_PER_SECOND,
    capacityCallsPerSecond: CONCURRENCY * (1000 / SERVICE_MS),
    interactiveQueueWaitP50Ms: percentile(waits.interactive, 50),
    interactiveQueueWaitP99Ms: percentile(waits.interactive, 99),
    batchQueueWaitP50Ms: percentile(waits.batch, 50) ?? Number.NaN,
    batchQueueWaitP99Ms: percentile(waits.batch, 99) ?? Number.NaN,
    interactiveRan: outcomes.interactive.ran,
    interactiveExpired: outcomes.interactive.expired,
    batchRan: outcomes.batch.ran,
    batchExpired: outcomes.batch.expired,
    // Calls that failed otherwise (printed on stderr by code, with the first message).
    otherFailures: outcomes.interactive.refused + outcomes.batch.refused,
  };
}
