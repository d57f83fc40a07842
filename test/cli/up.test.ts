import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEntryPoint } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('`agent-mesh up` (what `npm start` runs)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir();
  });

  afterAll(async () => {
    await temp?.remove();
  });

  it('creates certificates, routes discovered traffic over mTLS to both agents, and exits 0 on SIGINT', async () => {
    const up = spawnEntryPoint(
      ['up', '--certs', `${temp.dir}/certs`, '--listen', '127.0.0.1:0', '--interval', '50ms'],
      {
        AGENT_MESH_LOG_LEVEL: 'info',
      },
    );
    try {
      await up.waitFor(/"callee":"spiffe:\/\/agentmesh.local\/agent\/echo-1"/);
      await up.waitFor(/"callee":"spiffe:\/\/agentmesh.local\/agent\/echo-2"/);
      expect(up.output()).toMatch(/echo-1 heard spiffe:\/\/agentmesh.local\/agent\/caller/);
    } finally {
      expect(await up.stop()).toBe(0);
    }
    expect(up.output()).toMatch(/"agent":"echo-1","msg":"agent deregistered"/);
  });
});
