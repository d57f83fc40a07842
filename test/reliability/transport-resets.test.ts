import { createSecureServer, constants, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshClient } from '../../src/data-plane/mesh-client.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { startCaller, startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

/**
 * Registers `name` as `type` at a raw HTTP/2 server with real mTLS (its own identity) that answers every stream with
 * `onStream`, and beside it a healthy instance `healthy` of the same type.
 */
async function startMisbehaving(
  mesh: TestMesh,
  type: string,
  [name, healthy]: [string, string],
  onStream: (stream: ServerHttp2Stream) => void,
): Promise<Http2SecureServer> {
  const identity = await mesh.identity(name, [type]);
  const { certificatePem, privateKeyPem, trustBundlePem } = identity.current;
  const server = createSecureServer({
    cert: certificatePem,
    key: privateKeyPem,
    ca: trustBundlePem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('stream', (stream) => {
    stream.on('error', () => undefined); // the reset it sends is reported back to it as an error
    onStream(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await (await mesh.client(name, [type])).register({ type, name, endpoint: `127.0.0.1:${port}` }, 60_000);
  const instance = await mesh.agentServer(healthy, [type]);
  await (
    await mesh.client(healthy, [type])
  ).register({ type, name: healthy, endpoint: instance.server.address }, 60_000);
  return server;
}

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
    // The resetting instance: every stream reset before any answer.
    resetting = await startMisbehaving(mesh, 'flaky', ['resetting-1', 'healthy-1'], (stream) =>
      stream.close(constants.NGHTTP2_INTERNAL_ERROR),
    );
    caller = await startCaller(mesh, 'caller');
    await until(() => caller.cache.select({ type: 'flaky' }).length === 2, 'both instances are listed');
  });

  afterAll(async () => {
    caller?.close();
    await new Promise((resolve) => resetting?.close(resolve));
    await new Promise((resolve) => cutting?.close(resolve));
    await mesh?.close();
  });

  let cutting: Http2SecureServer | undefined;

  /** Four round-robin calls that may not run twice, and how those that met the misbehaving instance failed. */
  const nonIdempotentFailures = async (client: MeshClient, type: string): Promise<MeshError[]> => {
    const failures: MeshError[] = [];
    for (let i = 0; i < 4; i += 1) {
      await client.call({ type }, 'ping', '', { balancer: 'round-robin' }).then(
        () => undefined,
        (error: unknown) => failures.push(MeshError.from(error)),
      );
    }
    return failures;
  };

  /**
   * Six idempotent round-robin calls from a fresh client (an earlier one may have ejected the misbehaving
   * instance): each goes on to the healthy instance.
   */
  const expectIdempotentCallsReach = async (healthy: string, type: string, callerName: string) => {
    const fresh = await startCaller(mesh, callerName);
    try {
      await until(() => fresh.cache.select({ type }).length === 2, 'both instances are listed');
      for (let i = 0; i < 6; i += 1) {
        const result = await fresh.client.call({ type }, 'ping', '', {
          idempotent: true,
          balancer: 'round-robin',
        });
        expect(result.payload.toString()).toBe(healthy);
      }
    } finally {
      fresh.close();
    }
  };

  it('fails an idempotent call over when an instance cuts its answer off before the status', async () => {
    // An instance that begins its answer (response headers), then ends the stream without a status: what a process
    // that dies or exits mid-answer leaves its caller with (grpc-js: "Received RST_STREAM with code 0").
    cutting = await startMisbehaving(mesh, 'cut', ['cutting-1', 'whole-1'], (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.close(constants.NGHTTP2_NO_ERROR);
    });
    const fresh = await startCaller(mesh, 'cut-caller');
    try {
      await until(() => fresh.cache.select({ type: 'cut' }).length === 2, 'both instances are listed');
      // Not idempotent: the cut call may have run, so it fails with the reset.
      const failures = await nonIdempotentFailures(fresh.client, 'cut');
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) expect(failure.message).toMatch(/RST_STREAM with code 0/);
    } finally {
      fresh.close();
    }
    await expectIdempotentCallsReach('whole-1', 'cut', 'cut-caller');
  });

  it('fails an idempotent call over to another instance, and a non-idempotent one not', async () => {
    // Round-robin over the two: a call that may not run twice fails when it meets the reset.
    const failures = await nonIdempotentFailures(caller.client, 'flaky');
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure.code).toBe(Code.INTERNAL);
    await expectIdempotentCallsReach('healthy-1', 'flaky', 'caller');
  });
});
