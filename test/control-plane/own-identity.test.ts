import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCaDir, ensureIdentity, issueToDir } from '../../src/identity/certs-dir.js';
import { collector, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import type { WatchMessage } from '../../src/control-plane/client.js';

describe("the control plane's own identity", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let mesh: TestMesh;

  beforeAll(async () => {
    temp = await makeTempDir();
    await ensureCaDir(temp.dir, 'agentmesh.local');
    // The agents' identities first: on a loaded machine making keys takes seconds of the short life below.
    for (const name of ['steady', 'late-comer']) await ensureIdentity(temp.dir, name, { types: ['worker'] });
    // Started with a certificate that expires in 20 seconds.
    await issueToDir(temp.dir, 'control-plane', { ttlMs: 20_000 });
    mesh = await startTestMesh({
      certsDir: temp.dir,
      healthChecks: {
        intervalMs: 200,
        timeoutMs: 10_000, // a bound: probes here fail by answer or refusal, never by timeout
        failureThreshold: 2,
        successThreshold: 1,
        holdDownMs: 0,
      },
    });
  });

  afterAll(async () => {
    await mesh?.close();
    await temp?.remove();
  });

  it('is renewed in-process, so agents keep connecting and health checks keep passing past its first expiry', async () => {
    const firstExpiry = mesh.controlPlane.identity.expiresAt;
    const agent = await mesh.agentServer('steady');
    const client = await mesh.client('steady', ['worker']);
    await client.register({ type: 'worker', name: 'steady', endpoint: agent.server.address }, 30_000);
    const messages = collector<WatchMessage>();
    const watch = client.watch(0, (message) => messages.push(message));
    try {
      await until(() => Date.now() > firstExpiry + 2_000, 'past the first certificate’s expiry', 60_000);
      expect(mesh.controlPlane.identity.expiresAt).toBeGreaterThan(firstExpiry);
      // New connections (a fresh client) and the health checks' connections both use the renewed certificate.
      const late = await mesh.client('late-comer', ['worker']);
      expect((await late.getAgent('steady')).health).toBe('healthy');
      expect(messages.items.some((m) => m.kind === 'agent' && m.record.health === 'unhealthy')).toBe(false);
    } finally {
      watch.cancel();
    }
  });
});
