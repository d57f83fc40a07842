import { startGateway, type GatewayOptions, type RunningGateway } from '../../src/edge/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { TestMesh } from './test-mesh.js';

/**
 * A gateway in front of a test mesh, on a free loopback port, following the registry as `gateway`; `options`
 * override what the test is about (the address, anonymous access).
 */
export async function startTestGateway(
  mesh: TestMesh,
  options: Partial<Omit<GatewayOptions, 'identity' | 'controlPlane' | 'certsDir'>> = {},
): Promise<RunningGateway> {
  return startGateway({
    identity: await mesh.identity('gateway', []),
    controlPlane: mesh.controlPlane.address,
    certsDir: mesh.certsDir,
    listen: '127.0.0.1:0',
    logger: silentLogger(),
    version: 'test',
    ...options,
  });
}
