import { createSecureServer, constants, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, MeshError } from '../../src/errors.js';
import { startCaller, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * A transport reset, as a saturated machine produces them: an instance whose HTTP/2 streams are reset with
 * INTERNAL_ERROR before any answer (grpc-js reports it as INTERNAL, with the reset code on the status). An
 * idempotent call fails over as it would on UNAVAILABLE; a call that may not run twice does not.
 */
describe('a mesh client meeting transport resets', () => {
  let mesh: TestMesh;
  let caller: Awaited<ReturnType<typeof startCaller>>;
  let resetting: Http2SecureServer;

  beforeAll(async () => {
    mesh = await startTestMesh();
    // The resetting instance: real mTLS with its own identity, then every stream reset.
    const identity = await mesh.identity('resetting-1', ['flaky']);
    const { certificatePem, privateKeyPem, trustBundlePem } = identity.current;
    resetting = createSecureServer({
      cert: certificatePem,
      key: privateKeyPem,
      ca: trustBundlePem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    resetting.on('stream', (stream) => {
      stream.on('error', () => undefined); // the reset it sends is reported back to it as an error
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const port = (resetting.address() as AddressInfo).port;
    await (
      await mesh.client('resetting-1', ['flaky'])
    ).register({ type: 'flaky', name: 'resetting-1', endpoint: `127.0.0.1:${port}` }, 60_000);
    const healthy = await mesh.agentServer('healthy-1', ['flaky']);
    await (
      await mesh.client('healthy-1', ['flaky'])
    ).register({ type: 'flaky', name: 'healthy-1', endpoint: healthy.server.address }, 60_000);
    caller = await startCaller(mesh, 'caller');
    await until(() => caller.cache.select({ type: 'flaky' }).length === 2, 'both instances are listed');
  });

  afterAll(async () => {
    caller?.close();
    await new Promise((resolve) => resetting?.close(resolve));
    await mesh?.close();
  });

  it('fails an idempotent call over to another instance, and a non-idempotent one not', async () => {
    // Round-robin over the two: a call that may not run twice fails when it meets the reset.
    const failures: MeshError[] = [];
    for (let i = 0; i < 4; i += 1) {
      await caller.client.call({ type: 'flaky' }, 'ping', '', { balancer: 'round-robin' }).then(
        () => undefined,
        (error: unknown) => failures.push(MeshError.from(error)),
      );
    }
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure.code).toBe(Code.INTERNAL);
    // An idempotent call goes on to the healthy instance (a fresh client: the first one may have ejected it).
    const fresh = await startCaller(mesh, 'caller');
    try {
      for (let i = 0; i < 6; i += 1) {
        const result = await fresh.client.call({ type: 'flaky' }, 'ping', '', {
          idempotent: true,
          balancer: 'round-robin',
        });
        expect(result.payload.toString()).toBe('healthy-1');
      }
    } finally {
      fresh.close();
    }
  });
});
