import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, joinMesh } from '../../src/control-plane/client.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { createCertificateRequest } from '../../src/identity/certificate-authority.js';
import { BUNDLE_FILE, CA_CERT_FILE } from '../../src/identity/certs-dir.js';
import { generateRsaKeyPair } from '../../src/identity/keys.js';
import { identitySpiffeId } from '../../src/core/spiffe-id.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

async function failure(promise: Promise<unknown>): Promise<MeshError> {
  return (await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  )) as MeshError;
}

describe('a trust bundle that also trusts another trust domain', () => {
  let mesh: TestMesh;
  let partner: TestCa;
  let bundle: string;
  let outsider: ControlPlaneClient;

  beforeAll(async () => {
    mesh = await startTestMesh();
    partner = await createTestCa('partner.example');
    bundle = (await readFile(join(mesh.certsDir, CA_CERT_FILE), 'utf8')) + partner.ca.trustBundle.pem;
    await writeFile(join(mesh.certsDir, BUNDLE_FILE), bundle);
    await mesh.controlPlane.reloadCa();
    // spiffe://partner.example/agent/payments: trusted as a caller, but not our agent "payments".
    const identity = new MeshIdentity({ ...(await partner.material('payments')), trustBundlePem: bundle });
    outsider = new ControlPlaneClient({
      address: mesh.controlPlane.address,
      identity,
      expectedServer: 'spiffe://agentmesh.local/control-plane',
    });
  });

  afterAll(async () => {
    outsider?.close();
    await mesh?.close();
  });

  it('lets a partner identity read, but not act as our agent of the same name', async () => {
    const ours = await mesh.agentServer('payments');
    const owner = await mesh.client('payments');
    await owner.register({ type: 'payments', name: 'payments', endpoint: ours.server.address }, 30_000);
    expect((await outsider.discover({ type: 'payments' })).agents).toHaveLength(1);
    for (const attempt of [
      outsider.register({ type: 'payments', name: 'payments', endpoint: '127.0.0.1:1' }),
      outsider.heartbeat('payments', { inFlight: 0, queueDepth: 0 }, true),
      outsider.deregister('payments'),
    ]) {
      expect((await failure(attempt)).code).toBe(Code.PERMISSION_DENIED);
    }
    expect((await owner.getAgent('payments')).health).toBe('healthy');
  });

  it('does not renew a partner identity into ours', async () => {
    const keys = await generateRsaKeyPair();
    const csr = createCertificateRequest(
      identitySpiffeId('agentmesh.local', 'payments'),
      keys.privateKeyPem,
      keys.publicKeyPem,
    );
    const error = await failure(outsider.signCertificate(csr));
    expect(error.code).toBe(Code.PERMISSION_DENIED);
  });

  it('refuses a join token that the partner CA signed', async () => {
    const forged = partner.ca.createJoinToken('payments', 60_000);
    const error = await failure(
      joinMesh({
        address: mesh.controlPlane.address,
        trustBundlePem: bundle,
        token: forged.token,
        name: 'payments',
      }),
    );
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toMatch(/not "agentmesh.local"|not from a root of trust domain "agentmesh.local"/);
  });
});
