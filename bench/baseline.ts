/** What the benchmarks share: percentiles, and the baseline they compare against (plain grpc-js mTLS calls). */
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { AgentClient } from '../src/generated/agentmesh/v1/Agent.js';
import type { IdentityMaterial } from '../src/identity/certs-dir.js';
import { MESH_CHANNEL_OPTIONS } from '../src/transport/credentials.js';
import { loadMeshProtos } from '../src/transport/protos.js';

/** The value at percentile `p` (0-100) of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Calls `call` from `concurrency` loops for `durationMs`, each starting its next call when one ends; the calls made. */
export async function closedLoop(
  call: () => Promise<unknown>,
  durationMs: number,
  concurrency: number,
): Promise<number> {
  let calls = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        calls += 1;
      }
    }),
  );
  return calls;
}

/** The median of `values` (any order). */
export function median(values: number[]): number {
  return percentile(
    [...values].sort((x, y) => x - y),
    50,
  );
}

/** A plain grpc-js `createSsl` mTLS client of an agent, with no agent-mesh code on its path: the baseline. */
export function directAgentClient(address: string, material: IdentityMaterial): AgentClient {
  const { protos } = loadMeshProtos();
  return new protos.agentmesh.v1.Agent(
    address,
    grpc.credentials.createSsl(
      Buffer.from(material.trustBundlePem),
      Buffer.from(material.privateKeyPem),
      Buffer.from(material.certificatePem),
      { checkServerIdentity: () => undefined },
    ),
    MESH_CHANNEL_OPTIONS,
  );
}

/** Invokes the generic `echo` method over a direct client, with a 10 s deadline. */
export function directEcho(client: AgentClient, payload: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    client.Invoke(
      { method: 'echo', payload, contentType: 'application/octet-stream' },
      { deadline: Date.now() + 10_000 },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
}

/** The heap in use after two full garbage collections (with `--expose-gc`, as `npm run bench` runs). */
export function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}
