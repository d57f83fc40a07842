import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

describe('`agent-mesh publish` and `agent-mesh subscribe`', () => {
  let mesh: TestMesh;
  let flags: (name: string) => string[];

  beforeAll(async () => {
    mesh = await startTestMesh();
    await mesh.identity('cli');
    await mesh.identity('listener', ['cli']);
    flags = (name) => [
      '--certs',
      mesh.certsDir,
      '--name',
      name,
      '--control-plane',
      mesh.controlPlane.address,
    ];
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('prints published events as JSON lines, and reports the deliveries', async () => {
    const subscriber = spawnEntryPoint(['subscribe', 'orders.>', ...flags('listener')]);
    try {
      await subscriber.waitFor(/subscribed to "orders.>" as spiffe:\/\/agentmesh.local\/agent\/listener/);
      const published = await runEntryPoint('agent-mesh', [
        'publish',
        'orders.created',
        '{"order": 7}',
        '--key',
        'customer-1',
        ...flags('cli'),
      ]);
      expect(published.stderr).toBe('');
      expect(published.code).toBe(0);
      const report = JSON.parse(published.stdout) as Record<string, unknown>;
      expect(report).toMatchObject({
        accepted: true,
        subscriptions: 1,
        groups: 0,
        delivered: true,
        deadLettered: 0,
      });
      const line = await subscriber.waitFor(/^\{.*"topic":"orders.created".*\}$/m);
      const event = JSON.parse(line[0]) as Record<string, unknown>;
      expect(event).toMatchObject({
        id: report.eventId,
        publisher: 'spiffe://agentmesh.local/agent/cli',
        contentType: 'application/json',
        key: 'customer-1',
        attempt: 1,
        payload: { order: 7 },
      });
    } finally {
      expect(await subscriber.stop('SIGINT')).toBe(0);
    }
  });

  it('warns that a second subscribe as the same identity replaces the first', async () => {
    const first = spawnEntryPoint(['subscribe', 'orders.>', ...flags('listener')]);
    try {
      await first.waitFor(/subscribed to "orders.>"/);
      expect(first.output()).not.toMatch(/warning/);
      const second = spawnEntryPoint(['subscribe', 'orders.>', ...flags('listener')]);
      try {
        await second.waitFor(
          /warning: "listener" is already registered \(cli at 127\.0\.0\.1:\d+, since [^)]+\); this subscription replaces it/,
        );
        await second.waitFor(/subscribed to "orders.>"/);
      } finally {
        expect(await second.stop('SIGINT')).toBe(0);
      }
    } finally {
      expect(await first.stop('SIGINT')).toBe(0);
    }
  });

  it('shows duration defaults as durations, as the flags take them', async () => {
    const help = await runEntryPoint('agent-mesh', ['publish', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /how long to wait for acknowledgements \(default: 10s\)/,
    );
    const token = await runEntryPoint('agent-mesh', ['token', 'create', '--help']);
    expect(token.stdout).toMatch(/how long the token stays usable \(default: 1h\)/);
  });

  it('says so when nobody subscribes', async () => {
    const result = await runEntryPoint('agent-mesh', ['publish', 'nobody.home', '{}', ...flags('cli')]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ accepted: true, subscriptions: 0, groups: 0 });
    expect(result.stderr).toMatch(/no subscription matches "nobody.home": nobody received the event/);
  });

  it('takes the payload from a file (@file) or standard input (-), past the shell argument limit', async () => {
    const file = join(mesh.certsDir, 'big-event.json');
    // 200 KB: over the ~128 KiB a single argument may have on Linux.
    await writeFile(file, JSON.stringify({ text: 'x'.repeat(200_000) }));
    const fromFile = await runEntryPoint('agent-mesh', [
      'publish',
      'nobody.home',
      `@${file}`,
      ...flags('cli'),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ accepted: true });
    const fromStdin = await runEntryPoint(
      'agent-mesh',
      ['publish', 'nobody.home', '-', ...flags('cli')],
      undefined,
      '{"from": "stdin"}',
    );
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const missing = await runEntryPoint('agent-mesh', ['publish', 'a.b', '@/no/such/file', ...flags('cli')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read \/no\/such\/file: ENOENT/);
  });

  it('fails cleanly on bad input: usage errors exit 2, failures 1', async () => {
    const topic = await runEntryPoint('agent-mesh', ['publish', 'bad..topic', '{}', ...flags('cli')]);
    expect(topic.code).toBe(2);
    expect(topic.stderr).toMatch(/invalid topic "bad..topic"/);
    const json = await runEntryPoint('agent-mesh', ['publish', 'a.b', '{not json', ...flags('cli')]);
    expect(json.code).toBe(2);
    expect(json.stderr).toMatch(/the payload is not JSON.*--text/);
    const pattern = await runEntryPoint('agent-mesh', ['subscribe', 'a.>.b', ...flags('listener')]);
    expect(pattern.code).toBe(2);
    expect(pattern.stderr).toMatch(/invalid topic pattern "a.>.b"/);
    const identity = await runEntryPoint('agent-mesh', ['publish', 'a.b', '{}', ...flags('nobody')]);
    expect(identity.code).toBe(1);
    expect(identity.stderr).toMatch(/agent-mesh ca issue nobody/);
    const unreachable = await runEntryPoint('agent-mesh', [
      'publish',
      'a.b',
      '{}',
      '--certs',
      mesh.certsDir,
      '--name',
      'cli',
      '--control-plane',
      '127.0.0.1:1',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot use the control plane at 127.0.0.1:1/);
  }, 120_000); // five separate processes, each starting Node.js and TypeScript
});
