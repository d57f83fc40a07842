import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateRenewer } from '../../src/agent/certificate-renewer.js';
import { ControlPlaneClient } from '../../src/control-plane/client.js';
import { loadCaDir, loadTrustBundle } from '../../src/identity/certs-dir.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe('automatic certificate renewal', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startTestMesh();
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('schedules renewal at about half the lifetime, within the jitter', async () => {
    const identity = await mesh.identity('scheduled');
    const certificate = new X509Certificate(identity.current.certificatePem);
    const start = Math.max(Date.parse(certificate.validFrom), identity.updatedAt); // notBefore is backdated
    const lifetime = Date.parse(certificate.validTo) - start;
    const at = (random: number) =>
      new CertificateRenewer({
        identity,
        client: undefined as never,
        logger: silentLogger(),
        random: () => random,
      }).nextRenewalAt();
    expect(at(0.5)).toBe(start + lifetime * 0.5);
    expect(at(0)).toBe(start + lifetime * 0.4);
    expect(at(1)).toBe(start + lifetime * 0.6);
  });

  it('renews a short-lived certificate on its own, half-way through its life', async () => {
    // A 10-minute certificate, signed online for an agent that joined with a token. (Its life passes by the
    // renewer's clock; by the real one it stays valid however long a loaded machine takes to make keys.)
    const ca = await loadCaDir(mesh.certsDir);
    const issued = await ca.issue('short-lived', { ttlMs: 600_000, types: ['worker', 'auditor'] });
    const identity = new MeshIdentity({
      certificatePem: issued.certificatePem,
      privateKeyPem: issued.privateKeyPem,
      trustBundlePem: (await loadTrustBundle(mesh.certsDir)).pem,
    });
    const client = new ControlPlaneClient({ address: mesh.controlPlane.address, identity });
    // The renewer's clock runs with the real one, set ahead to 300 ms before half-way through the certificate's
    // life (no jitter): the renewal must come by itself, and not before half-way by that clock.
    let shift = 0;
    const clock = { now: () => Date.now() + shift };
    const renewals: number[] = [];
    const renewer = new CertificateRenewer({
      identity,
      client,
      logger: silentLogger(),
      clock,
      random: () => 0.5,
      onRenewed: () => {
        renewals.push(clock.now());
        renewer.stop();
      },
    });
    const halfWay = renewer.nextRenewalAt();
    try {
      shift = halfWay - 300 - Date.now();
      renewer.start();
      await until(() => renewals.length === 1, 'the renewal', 30_000);
      expect(renewals[0]).toBeGreaterThanOrEqual(Math.floor(halfWay) - 1); // timers count whole milliseconds
      const next = new X509Certificate(identity.current.certificatePem);
      expect(next.serialNumber).not.toBe(new X509Certificate(issued.certificatePem).serialNumber);
      // The renewed certificate carries the control plane's longer default lifetime and the same identity.
      expect(identity.spiffeId.uri).toBe('spiffe://agentmesh.local/agent/short-lived');
      // And the same entitlements: the control plane takes them from the certificate it renews, never the request.
      expect(identity.agentTypes).toEqual(['worker', 'auditor']);
      expect(identity.expiresAt).toBeGreaterThan(issued.notAfter.getTime());
      expect((await client.discover()).revision).toBeGreaterThanOrEqual(0);
    } finally {
      renewer.stop();
      client.close();
    }
  });
});
