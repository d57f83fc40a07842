import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import { Code } from '../../src/core/errors.js';
import { startPlainAgentApp, type PlainAgentApp, type SeenCall } from '../helpers/plain-agent-app.js';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { until } from '../helpers/until.js';

describe('agent-mesh sidecar', () => {
  let mesh: TestMesh;
  let app: PlainAgentApp;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let socketDir: string;

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-sidecar-cli-');
    socketDir = join(temp.dir, 'sockets');
    await mkdir(socketDir, { mode: 0o700 });
    mesh = await startTestMesh();
    await mesh.identity('shouter-cli', ['shouter']);
    app = await startPlainAgentApp(`unix:${socketDir}/app.sock`);
  });

  afterAll(async () => {
    await app?.close();
    await mesh?.close();
    await temp?.remove();
  });

  const flags = (extra: string[] = []) => [
    'sidecar',
    '--certs',
    mesh.certsDir,
    '--control-plane',
    mesh.controlPlane.address,
    '--name',
    'shouter-cli',
    '--type',
    'shouter',
    '--app',
    app.address,
    ...extra,
  ];

  it('serves the app to the mesh until Ctrl-C, then deregisters, removes its socket and exits 0', async () => {
    const sidecar = spawnEntryPoint([...flags(), '--socket-dir', socketDir, '--log-level', 'warn']);
    let caller: RunningAgent | undefined;
    try {
      const [, address] = await sidecar.waitFor(/mesh\s+(127\.0\.0\.1:\d+)/);
      const [, outbound] = await sidecar.waitFor(/outbound\s+unix:(\S+) \(Unix socket, only this user/);
      expect(outbound).toBe(join(socketDir, 'outbound.sock'));
      expect((await lstat(outbound!)).isSocket()).toBe(true);
      // The app listens in the private directory too: the sidecar has nothing to warn about.
      expect(sidecar.output()).not.toMatch(/"level":40/);
      caller = await startAgent({
        identity: await mesh.identity('caller-cli', ['caller']),
        controlPlane: mesh.controlPlane.address,
        type: 'caller',
      });
      await until(
        () => caller!.cache.select({ type: 'shouter' }).length === 1,
        'the caller sees the sidecar',
      );
      expect(caller.cache.select({ type: 'shouter' })[0]!.spec.endpoint).toBe(address);
      const result = await caller.mesh.call({ type: 'shouter' }, 'echo', 'hi');
      const seen = JSON.parse(result.payload.toString()) as SeenCall;
      expect(seen.metadata['x-agentmesh-caller']).toBe('spiffe://agentmesh.local/agent/caller-cli');
      expect(await sidecar.stop('SIGINT')).toBe(0);
      const admin = await mesh.client('control-plane');
      await expect(admin.getAgent('shouter-cli')).rejects.toMatchObject({ code: Code.NOT_FOUND });
      await expect(lstat(outbound!)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await sidecar.stop('SIGKILL');
      await caller?.drain(0);
    }
  }, 60_000);

  it('serves the outbound port on TCP with --allow-tcp-outbound, warning that any process can use it', async () => {
    const sidecar = spawnEntryPoint([
      ...flags(),
      '--outbound-listen',
      '127.0.0.1:0',
      '--allow-tcp-outbound',
      '--log-level',
      'warn',
    ]);
    try {
      await sidecar.waitFor(/outbound\s+127\.0\.0\.1:\d+ \(TCP, plaintext: ANY local process/);
      await sidecar.waitFor(/the outbound port is on TCP .*any local process, of any user/);
      expect(await sidecar.stop('SIGINT')).toBe(0);
    } finally {
      await sidecar.stop('SIGKILL');
    }
  }, 60_000);

  it('exits 1 naming the fix when the socket directory is open to others', async () => {
    const open = join(temp.dir, 'open');
    await mkdir(open, { mode: 0o755 });
    const result = await runEntryPoint('agent-mesh', [...flags(), '--socket-dir', open]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the socket directory ${open} is open to group or others (mode 0755)`);
  });

  it('exits 1 naming the app when the app does not answer', async () => {
    const result = await runEntryPoint('agent-mesh', [...flags(), '--app', '127.0.0.1:1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the app at 127.0.0.1:1 does not answer grpc.health.v1');
  });

  it.each([
    [['--app', '10.0.0.1:50051'], /app address "10\.0\.0\.1:50051" is not on loopback/],
    [['--outbound-listen', '0.0.0.0:0'], /outbound listen address "0\.0\.0\.0:0" is not on loopback/],
    [['--outbound-listen', '127.0.0.1:0'], /puts the outbound port on TCP.*add --allow-tcp-outbound/],
    [['--allow-tcp-outbound'], /--allow-tcp-outbound needs --outbound-listen/],
    [['--outbound-listen', '127.0.0.1:0', '--allow-tcp-outbound', '--socket-dir', '/tmp/s'], /not both/],
    [['--outbound-listen', 'unix:/tmp/s/outbound.sock'], /set its directory with --socket-dir/],
    [['--app', 'unix:app.sock'], /a Unix socket is unix:\/absolute\/path/],
    [['--type', 'Bad Type'], /an agent type is/],
    [['--label', 'novalue'], /key=value/],
    [['--health-interval', 'soon'], /--health-interval/],
    [
      ['--subscribe', 'orders..created'],
      /invalid topic pattern "orders\.\.created".*e\.g\. orders\.>:mailers/,
    ],
    [['--subscribe', 'orders.>:Mailers'], /invalid queue group "Mailers"/],
    [['--subscribe', 'orders.>', '--subscribe', 'orders.>'], /listed twice/],
    [['--publish', 'orders.>.x'], /invalid topic pattern/],
  ])(
    'exits 2 with the reason for bad flags %j',
    async (extra, message) => {
      const result = await runEntryPoint('agent-mesh', flags(extra));
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    },
    30_000,
  );

  it('exits 2 when the agent name or type is missing', async () => {
    const noName = await runEntryPoint('agent-mesh', ['sidecar', '--type', 'shouter', '--app', app.address]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("required option '--name <identity>' not specified");
    const noType = await runEntryPoint('agent-mesh', ['sidecar', '--name', 'x', '--app', app.address]);
    expect(noType.code).toBe(2);
    expect(noType.stderr).toContain("required option '--type <type>' not specified");
  });
});
