import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient, joinMesh } from '../../src/control-plane/client.js';
import { Code, type MeshError } from '../../src/core/errors.js';
import { ensureCaDir, ensureIdentity, loadTrustBundle } from '../../src/identity/certs-dir.js';
import { MeshIdentity } from '../../src/transport/mesh-identity.js';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('`agent-mesh control-plane` and `agent-mesh token create`', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir();
    await ensureCaDir(temp.dir, 'agentmesh.local');
  });

  afterAll(async () => {
    await temp?.remove();
  });

  it('exits with a clear error when its certificate is missing', async () => {
    const result = await runEntryPoint('agent-mesh', [
      'control-plane',
      '--certs',
      temp.dir,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /control plane's identity is missing: .*agent-mesh ca issue control-plane --certs/,
    );
  });

  it('refuses an unknown store and a malformed listen address', async () => {
    const store = await runEntryPoint('agent-mesh', ['control-plane', '--store', 'mysql']);
    expect(store.code).toBe(2);
    expect(store.stderr).toMatch(/Allowed choices are memory, etcd/);
    await ensureIdentity(temp.dir, 'control-plane');
    const listen = await runEntryPoint('agent-mesh', [
      'control-plane',
      '--certs',
      temp.dir,
      '--listen',
      'nowhere',
    ]);
    expect(listen.code).toBe(2);
    expect(listen.stderr).toMatch(
      /option '--listen <host:port>' argument 'nowhere' is invalid. use host:port/,
    );
    const admin = await runEntryPoint('agent-mesh', ['control-plane', '--admin', 'ops']);
    expect(admin.code).toBe(2);
    expect(admin.stderr).toMatch(/option '--admin <spiffe-id>' argument 'ops' is invalid/);
  });

  it('refuses malformed event-store flags as usage errors, and says how to make the NATS authority', async () => {
    for (const [flags, message] of [
      [['--events', 'http://127.0.0.1:4222'], /is not a NATS URL: use nats:\/\/host:port/],
      [['--events', 'nats://127.0.0.1:4222', '--event-credential-ttl', '1s'], /must be at least 5s/],
      [['--events', 'nats://127.0.0.1:4222', '--event-replicas', '9'], /must be 1 to 5/],
    ] as const) {
      const result = await runEntryPoint('agent-mesh', ['control-plane', '--certs', temp.dir, ...flags]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    await ensureIdentity(temp.dir, 'control-plane');
    const missing = await runEntryPoint('agent-mesh', [
      ...['control-plane', '--certs', temp.dir, '--listen', '127.0.0.1:0'],
      ...['--events', 'nats://127.0.0.1:4222'],
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no NATS authority in .*: create it with `agent-mesh ca nats --certs/);
  });

  it('serves until SIGINT, and lets an agent join with a token from `token create`', async () => {
    await ensureIdentity(temp.dir, 'control-plane');
    const controlPlane = spawnEntryPoint([
      'control-plane',
      '--certs',
      temp.dir,
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'warn',
    ]);
    try {
      const [, address] = await controlPlane.waitFor(/serving on (127\.0\.0\.1:\d+)/);
      const token = await runEntryPoint('agent-mesh', [
        'token',
        'create',
        '--name',
        'cli-joiner',
        '--type',
        'joiner',
        '--ttl',
        '10m',
        '--certs',
        temp.dir,
      ]);
      expect(token.code, token.stderr).toBe(0);
      expect(token.stderr).toMatch(
        /token for cli-joiner in agentmesh.local, entitled to type joiner, usable once until/,
      );
      const material = await joinMesh({
        address: address!,
        trustBundlePem: (await loadTrustBundle(temp.dir)).pem,
        token: token.stdout.trim(),
        name: 'cli-joiner',
      });
      const client = new ControlPlaneClient({ address: address!, identity: new MeshIdentity(material) });
      try {
        expect((await client.discover()).agents).toEqual([]);
        // The certificate the token bought entitles the agent to the token's type, and to no other.
        await client.register({ type: 'joiner', name: 'cli-joiner', endpoint: '127.0.0.1:9' });
        const refused = await client
          .register({ type: 'summarizer', name: 'cli-joiner', endpoint: '127.0.0.1:9' })
          .catch((error: unknown) => error as MeshError);
        expect(refused).toMatchObject({ code: Code.PERMISSION_DENIED });
      } finally {
        client.close();
      }
    } finally {
      expect(await controlPlane.stop()).toBe(0);
    }
  });

  it('refuses a token for an invalid name', async () => {
    const result = await runEntryPoint('agent-mesh', [
      'token',
      'create',
      '--name',
      '../x',
      '--certs',
      temp.dir,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/invalid name "..\/x"/);
  });
});
