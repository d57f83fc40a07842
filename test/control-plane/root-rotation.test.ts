import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, renewIdentity } from '../../src/control-plane/client.js';
import {
  activateRootRotation,
  finishRootRotation,
  prepareRootRotation,
} from '../../src/identity/certs-dir.js';
import { createChannelCredentials } from '../../src/transport/credentials.js';
import type { MeshIdentity } from '../../src/transport/mesh-identity.js';
import type { RunningServer } from '../../src/transport/server.js';
import { agentClient, invoke } from '../helpers/agent-echo.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

describe('root rotation', () => {
  let mesh: TestMesh;
  const agents: Record<
    string,
    { identity: MeshIdentity; server: RunningServer; client: ControlPlaneClient }
  > = {};

  beforeAll(async () => {
    mesh = await startTestMesh();
    for (const name of ['early', 'late']) {
      const { identity, server } = await mesh.agentServer(name);
      agents[name] = {
        identity,
        server,
        client: new ControlPlaneClient({ address: mesh.controlPlane.address, identity }),
      };
    }
  });

  afterAll(async () => {
    for (const agent of Object.values(agents)) agent.client.close();
    await mesh?.close();
  });

  const issuerOf = (identity: MeshIdentity) => new X509Certificate(identity.current.certificatePem).issuer;

  async function expectCalls(from: string, to: string): Promise<void> {
    const connection = agentClient(
      agents[to]!.server.address,
      createChannelCredentials(agents[from]!.identity, agents[to]!.identity.spiffeId.uri),
    );
    try {
      expect((await invoke(connection, 'ping')).response.payload.toString()).toBe(to);
    } finally {
      connection.close();
    }
  }

  it('never breaks a call while the mesh moves from the old root to the new one', async () => {
    const oldIssuer = issuerOf(agents.early!.identity);

    // 1. Prepare: the next root joins the bundle; the old root still signs. Everyone renews once.
    await prepareRootRotation(mesh.certsDir);
    await mesh.controlPlane.reloadCa();
    for (const name of ['early', 'late']) await renewIdentity(agents[name]!.client, agents[name]!.identity);
    expect(agents.early!.identity.trustBundle.roots).toHaveLength(2);
    expect(issuerOf(agents.early!.identity)).toBe(oldIssuer);
    await expectCalls('early', 'late');

    // 2. Activate: the new root signs. "early" renews under it, "late" has not yet: they still talk, both ways,
    // and both still talk to the control plane.
    await activateRootRotation(mesh.certsDir);
    await mesh.controlPlane.reloadCa();
    // The control plane took a certificate from the new root for itself.
    expect(issuerOf(mesh.controlPlane.identity)).not.toBe(oldIssuer);
    await renewIdentity(agents.early!.client, agents.early!.identity);
    expect(issuerOf(agents.early!.identity)).not.toBe(oldIssuer);
    expect(issuerOf(agents.late!.identity)).toBe(oldIssuer);
    await expectCalls('early', 'late');
    await expectCalls('late', 'early');
    expect((await agents.late!.client.discover()).revision).toBeGreaterThanOrEqual(0);

    // 3. Finish once everyone has renewed under the new root: the bundle holds only the new root.
    await renewIdentity(agents.late!.client, agents.late!.identity);
    await finishRootRotation(mesh.certsDir);
    await mesh.controlPlane.reloadCa();
    expect(mesh.controlPlane.identity.trustBundle.roots).toHaveLength(1);
    await renewIdentity(agents.early!.client, agents.early!.identity);
    expect(agents.early!.identity.trustBundle.roots).toHaveLength(1);
    const finalBundle = await import('../../src/identity/certs-dir.js').then((m) =>
      m.loadTrustBundle(mesh.certsDir),
    );
    expect(finalBundle.roots).toHaveLength(1);
    await expectCalls('late', 'early');
  });
});
