import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../src/agent/agent-runtime.js';
import type { MeshError } from '../../src/core/errors.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';
import { freePort } from '../helpers/ports.js';

/** Whether `port` can be bound on loopback now. */
async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const sockets = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;

describe('an agent that fails to start', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startTestMesh();
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('closes its server again when the control plane refuses its registration', async () => {
    const port = await freePort();
    const error = (await startAgent({
      identity: await mesh.identity('bad-labels-1'),
      controlPlane: mesh.controlPlane.address,
      type: 'bad',
      labels: { 'not a label!': 'x' },
      listen: `127.0.0.1:${port}`,
    }).catch((e: unknown) => e)) as MeshError;
    expect(error.message).toMatch(/label key "not a label!"/);
    await until(() => canBind(port), 'the port is free again');
  });

  it('closes its control-plane connection and watch when its server cannot start', async () => {
    const identity = await mesh.identity('bad-listen-1');
    const before = sockets();
    const error = (await startAgent({
      identity,
      controlPlane: mesh.controlPlane.address,
      type: 'bad',
      listen: 'nonsense',
    }).catch((e: unknown) => e)) as MeshError;
    expect(error.message).toMatch(/invalid listen address "nonsense"/);
    // The watch's connection (both of its ends live in this process) closes again.
    await until(() => sockets() <= before, 'no socket is left open');
  });
});
