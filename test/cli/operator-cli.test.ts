import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startAgent, type RunningAgent } from '../../src/agent/agent-runtime.js';
import type { ControlPlaneClient } from '../../src/control-plane/client.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from '../helpers/ports.js';
import { runEntryPoint, spawnEntryPoint } from '../helpers/run-cli.js';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const packageVersion = async () =>
  (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;

describe('the operator commands: version, check, policies, top, completion, --output', () => {
  let mesh: TestMesh;
  let agent: RunningAgent;
  let caller: ControlPlaneClient;
  let flags: string[];
  let dashboard: string;
  const cli = (...args: string[]) => runEntryPoint('agent-mesh', [...args, ...flags]);
  const policyFile = async (name: string, text: string) => {
    const path = join(mesh.certsDir, name);
    await writeFile(path, text);
    return path;
  };

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: `127.0.0.1:${await freePort()}` });
    dashboard = mesh.controlPlane.httpUrl!.replace('http://', '');
    await mesh.identity('cli');
    flags = ['--certs', mesh.certsDir, '--name', 'cli', '--control-plane', mesh.controlPlane.address];
    agent = await startAgent({
      identity: await mesh.identity('echo-1', ['echo']),
      controlPlane: mesh.controlPlane.address,
      type: 'echo',
      methods: { echo: async (request) => request },
      logger: silentLogger(),
    });
    // A caller whose heartbeat reports calls to echo-1: what `top` shows.
    const callerServer = await mesh.agentServer('caller-1', ['caller']);
    caller = await mesh.client('caller-1', ['caller']);
    await caller.register(
      { type: 'caller', name: 'caller-1', endpoint: callerServer.server.address },
      300_000,
    );
  });

  afterAll(async () => {
    await agent?.drain(1_000);
    caller?.close();
    await mesh?.close();
  });

  describe('version', () => {
    it('prints the CLI version, from package.json, without a control plane with --client', async () => {
      const result = await runEntryPoint('agent-mesh', ['version', '--client', '-o', 'json']);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ client: await packageVersion() });
    });

    it("prints the control plane's version and the versions the agents registered with", async () => {
      const version = await packageVersion();
      const result = await cli('version', '--json');
      expect(result.code, result.stderr).toBe(0);
      const document = JSON.parse(result.stdout) as {
        controlPlane: { version: string };
        agents: Array<{ version: string; agents: string[] }>;
      };
      expect(document.controlPlane.version).toBe(version);
      // echo-1 runs the runtime, which says its version; caller-1 registered by hand and did not.
      expect(document.agents).toEqual([
        { version, count: 1, agents: ['echo-1'] },
        { version: 'unknown', count: 1, agents: ['caller-1'] },
      ]);
      const table = await cli('version');
      expect(table.stdout).toMatch(/^control plane\s+\S+\s+127\.0\.0\.1:\d+$/m);
    });

    it('fails with the reason when the control plane is unreachable', async () => {
      const port = await freePort();
      const result = await runEntryPoint('agent-mesh', [
        'version',
        '--certs',
        mesh.certsDir,
        '--control-plane',
        `127.0.0.1:${port}`,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/cannot use the control plane at 127\.0\.0\.1:\d+/);
      expect(result.stderr).not.toMatch(/Resolution note/);
    });
  });

  it('exits with the error when a control plane accepts the connection but never answers', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      for (const command of [['agents', 'list'], ['check'], ['version']]) {
        const result = await runEntryPoint('agent-mesh', [
          ...command,
          ...['--certs', mesh.certsDir, '--name', 'cli', '--control-plane', address],
        ]);
        expect(result.code, command.join(' ')).toBe(1);
      }
    } finally {
      silent.close();
    }
  });

  describe('check', () => {
    it('says ok to every check of a healthy mesh, and exits 0', async () => {
      const result = await cli('check');
      expect(result.code, result.stdout + result.stderr).toBe(0);
      for (const check of [
        'trust bundle',
        'identity',
        'private key',
        'control plane',
        'version',
        'clock skew',
        'store',
        'agents',
      ]) {
        expect(result.stdout).toMatch(new RegExp(`^ok\\s+${check}\\s`, 'm'));
      }
      const json = JSON.parse((await cli('check', '-o', 'json')).stdout) as Array<{
        check: string;
        status: string;
      }>;
      expect(json.every(({ status }) => status === 'ok')).toBe(true);
    });

    it('fails an unreachable control plane with the fix, and exits 1', async () => {
      const port = await freePort();
      const result = await runEntryPoint('agent-mesh', [
        'check',
        '--certs',
        mesh.certsDir,
        '--name',
        'cli',
        '--control-plane',
        `127.0.0.1:${port}`,
      ]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^ok\s+identity\s/m);
      expect(result.stdout).toMatch(/^fail\s+control plane\s+127\.0\.0\.1:\d+/m);
      expect(result.stdout).toMatch(/fix: start one \(npm start, or agent-mesh control-plane\)/);
    });

    it('fails a private key others can read, and a missing identity, each with the command that fixes it', async () => {
      const temp = await makeTempDir('agent-mesh-check-');
      try {
        await run('cp', [
          '-p',
          join(mesh.certsDir, 'ca.crt'),
          join(mesh.certsDir, 'cli.crt'),
          join(mesh.certsDir, 'cli.key'),
          temp.dir,
        ]);
        await chmod(join(temp.dir, 'cli.key'), 0o644);
        const loose = await runEntryPoint('agent-mesh', [
          'check',
          '--certs',
          temp.dir,
          '--control-plane',
          mesh.controlPlane.address,
        ]);
        expect(loose.code).toBe(1);
        expect(loose.stdout).toMatch(/^fail\s+private key\s+.*cli\.key has mode 0644/m);
        expect(loose.stdout).toMatch(/fix: chmod 600 .*cli\.key/);

        const missing = await runEntryPoint('agent-mesh', ['check', '--certs', temp.dir, '--name', 'nobody']);
        expect(missing.code).toBe(1);
        expect(missing.stdout).toMatch(/^fail\s+identity\s+certificate of "nobody" not found/m);
        expect(missing.stdout).toMatch(/fix: agent-mesh ca issue nobody --certs /);
        const noDir = await runEntryPoint('agent-mesh', [
          'agents',
          'list',
          '--certs',
          join(temp.dir, 'none'),
        ]);
        expect(noDir.code).toBe(1);
        expect(noDir.stderr).toMatch(
          /no certificate directory at .*none: point --certs \(or AGENT_MESH_CERTS\)/,
        );
      } finally {
        await temp.remove();
      }
    });
  });

  describe('policies', () => {
    const rules = `defaultEffect: allow
rules:
  - id: no-shouting
    effect: deny
    actions: [invoke]
    callers: ["spiffe://agentmesh.local/agent/shouter"]
`;

    it('validates a file without sending it, naming the problem of a bad one', async () => {
      const good = await policyFile('good.yaml', rules);
      expect(await runEntryPoint('agent-mesh', ['policies', 'validate', good])).toMatchObject({
        code: 0,
        stdout: `${good}: valid, default allow, 1 rule(s)\n`,
      });
      const typo = await policyFile('typo.yaml', 'defaultEffect: allow\nrules: [{id: x, efect: deny}]\n');
      const refused = await runEntryPoint('agent-mesh', ['policies', 'validate', typo]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/rules\[0\] has an unknown field "efect"/);
      const json = await policyFile('broken.json', '{"defaultEffect": ');
      expect((await runEntryPoint('agent-mesh', ['policies', 'validate', json])).stderr).toMatch(
        /is neither YAML nor JSON/,
      );
      const absent = await runEntryPoint('agent-mesh', [
        'policies',
        'validate',
        join(mesh.certsDir, 'none.yaml'),
      ]);
      expect(absent.code).toBe(2);
      expect(absent.stderr).toMatch(/cannot read .*none\.yaml: ENOENT/);
    });

    it("says which identity may make an administrator's call", async () => {
      const refused = await cli('events', 'list');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /only the control plane and its administrators may \(act as one with --name control-plane/,
      );
    });

    it('shows the diff, applies only with --yes off a terminal, and only as an administrator', async () => {
      const file = await policyFile('rules.yaml', rules);
      const dry = await cli('policies', 'set', file, '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('+  - id: no-shouting');
      const unasked = await cli('policies', 'set', file);
      expect(unasked.code).toBe(2);
      expect(unasked.stderr).toMatch(/add --yes to apply without asking/);
      const notAdmin = await cli('policies', 'set', file, '--yes');
      expect(notAdmin.code).toBe(1);
      expect(notAdmin.stderr).toMatch(/may not change policies/);
      // Nothing of the refused attempts applied.
      expect(parse((await cli('policies', 'get', '-o', 'yaml')).stdout)).toEqual({
        defaultEffect: 'allow',
        rules: [],
      });

      const admin = [...flags.slice(0, 2), '--name', 'control-plane', ...flags.slice(4)];
      const applied = await runEntryPoint('agent-mesh', ['policies', 'set', file, '--yes', ...admin]);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(/applied: default allow, 1 rule\(s\)/);
      // What `get -o yaml` prints is a file `set` takes, unchanged.
      const got = await cli('policies', 'get', '-o', 'yaml');
      expect(parse(got.stdout)).toEqual(parse(rules));
      const again = await runEntryPoint(
        'agent-mesh',
        ['policies', 'set', '-', '--yes', ...admin],
        undefined,
        got.stdout,
      );
      expect(again.stdout).toBe('no change: the policies in force are the same\n');
      expect((await cli('policies', 'get')).stdout).toMatch(/^no-shouting\s+deny\s+invoke\s+spiffe:/m);
    });
  });

  describe('top', () => {
    it('prints the calls agents reported per caller, callee and method, busiest first, as a table or JSON', async () => {
      await caller.heartbeat('caller-1', { inFlight: 0, queueDepth: 0 }, false, [
        {
          calleeId: 'echo-1',
          calleeType: 'echo',
          method: 'echo',
          calls: 40,
          errors: 2,
          latencyMsSum: 38 * 8 + 2 * 450,
          latencyMsMax: 450,
          lastError: 'UNAVAILABLE: test',
          // 38 calls of at most 10 ms and 2 of 200-500 ms, as the runtime counts them: the p99 lies among the two.
          latencyBuckets: [0, 0, 0, 38, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        },
        {
          calleeId: 'echo-1',
          calleeType: 'echo',
          method: 'whoami',
          calls: 5,
          errors: 0,
          latencyMsSum: 5,
          latencyMsMax: 1,
          lastError: '',
        },
      ]);
      // The heartbeat's answer comes after its reports are in the call graph.
      const once = await runEntryPoint('agent-mesh', ['top', '--once', '--dashboard', dashboard]);
      expect(once.code).toBe(0);
      const rows = once.stdout.split('\n').filter((line) => line.startsWith('caller-1'));
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(
        /^caller-1\s+echo-1\s+echo\s+[\d.]+\s+40\s+2 \(5\.0%\)(\s+[\d.]+ms){2}\s+400ms\s+450ms$/,
      );
      expect(rows[1]).toMatch(/^caller-1\s+echo-1\s+whoami\s+[\d.]+\s+5\s+0\s/);
      const byType = await runEntryPoint('agent-mesh', [
        'top',
        '--once',
        '--by-type',
        '--dashboard',
        dashboard,
      ]);
      expect(byType.stdout).toMatch(/^caller\s+echo\s+echo, whoami\s+[\d.]+\s+45\s+2 /m);
      // Without the counts (an older agent), the same sum and maximum give a lower estimate: the counts went over the wire.
      expect(rows[0]).not.toMatch(/\s350ms\s/);
      const json = await runEntryPoint('agent-mesh', ['top', '-o', 'json', '--dashboard', dashboard]);
      const { edges, generatedAt } = JSON.parse(json.stdout) as {
        edges: Array<{ methods: string[]; calls: number }>;
        generatedAt: string;
      };
      expect(generatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(edges.map(({ methods, calls }) => [methods, calls])).toEqual([
        [['echo'], 40],
        [['whoami'], 5],
      ]);
    });

    it('refreshes live until Ctrl-C, and retries a dashboard that is not there yet', async () => {
      const live = spawnEntryPoint(['top', '--dashboard', dashboard, '--interval', '100ms']);
      try {
        await live.waitFor(/calls reported to 127\.0\.0\.1:\d+ over the last 60s[^]*calls reported to/);
      } finally {
        expect(await live.stop('SIGINT')).toBe(0);
      }
      const waiting = spawnEntryPoint([
        'top',
        '--dashboard',
        `127.0.0.1:${await freePort()}`,
        '--interval',
        '100ms',
      ]);
      try {
        await waiting.waitFor(/cannot read the dashboard at [^\n]*\nretrying every 0\.1s; Ctrl-C stops/);
      } finally {
        expect(await waiting.stop('SIGINT')).toBe(0);
      }
    });

    it('says how to reach the dashboard when it is not there, and refuses a bad address', async () => {
      const absent = await runEntryPoint('agent-mesh', [
        'top',
        '--once',
        '--dashboard',
        `127.0.0.1:${await freePort()}`,
      ]);
      expect(absent.code).toBe(1);
      expect(absent.stderr).toMatch(
        /cannot read the dashboard at 127\.0\.0\.1:\d+ \(ECONNREFUSED\): start the control plane with --http-listen/,
      );
      const bad = await runEntryPoint('agent-mesh', ['top', '--dashboard', 'nowhere']);
      expect(bad.code).toBe(2);
    });
  });

  describe('completion', () => {
    it('completes subcommands, flags and flag values in bash', async () => {
      const { stdout: script } = await runEntryPoint('agent-mesh', ['completion', 'bash']);
      const complete = async (...words: string[]) => {
        const line = words.map((word) => `'${word}'`).join(' ');
        const { stdout } = await run('bash', [
          '-c',
          `${script}\nCOMP_WORDS=(agent-mesh ${line}); COMP_CWORD=${words.length}; _agent_mesh; echo "\${COMPREPLY[*]}"`,
        ]);
        return stdout.trim().split(' ');
      };
      expect(await complete('ca', 'i')).toEqual(['init', 'issue', 'inspect']);
      expect(await complete('agents', 'list', '-o', '')).toEqual(['table', 'json', 'yaml']);
      expect(await complete('policies', 'set', 'file.yaml', '--d')).toEqual(['--dry-run']);
      expect(await complete('gateway', 'token', '')).toEqual(['create', 'list', 'revoke']);
      expect(await complete('completion', '')).toEqual(['bash', 'zsh', 'fish']);
      // No subcommand to offer: bash completes file names (`complete -o default`), not flags.
      expect(await complete('policies', 'validate', '')).toEqual(['']);
    });

    it('prints zsh and fish scripts, and refuses another shell', async () => {
      expect((await runEntryPoint('agent-mesh', ['completion', 'zsh'])).stdout).toMatch(
        /^autoload -U \+X bashcompinit/m,
      );
      const fish = await runEntryPoint('agent-mesh', ['completion', 'fish']);
      expect(fish.stdout).toMatch(/^complete -c agent-mesh -n '__fish_use_subcommand' -a policies -d /m);
      expect(fish.stdout).toMatch(/-l output -s o -x -a 'table json yaml'/);
      const other = await runEntryPoint('agent-mesh', ['completion', 'tcsh']);
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(/Allowed choices are bash, zsh, fish/);
    });
  });

  describe('--output and --certs', () => {
    it('prints agents as YAML with -o yaml, and refuses an unknown format', async () => {
      const yaml = await cli('agents', 'list', '-o', 'yaml');
      expect(yaml.code).toBe(0);
      expect((parse(yaml.stdout) as Array<{ id: string }>).map(({ id }) => id).sort()).toEqual([
        'caller-1',
        'echo-1',
      ]);
      const both = await cli('agents', 'list', '--json', '-o', 'yaml');
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/option '--json' cannot be used with option '-o, --output <format>'/);
      const card = await cli('agents', 'show', 'echo-1', '--a2a', '-o', 'yaml');
      expect(parse(card.stdout)).toMatchObject({ name: 'echo-1' });
      const bad = await cli('agents', 'list', '-o', 'xml');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/Allowed choices are table, json, yaml/);
    });

    it('takes --certs on the CA commands, keeps --dir as an alias, and refuses the two naming different directories', async () => {
      const crt = join(mesh.certsDir, 'cli.crt');
      expect((await runEntryPoint('agent-mesh', ['ca', 'verify', crt, '--certs', mesh.certsDir])).code).toBe(
        0,
      );
      expect((await runEntryPoint('agent-mesh', ['ca', 'verify', crt, '--dir', mesh.certsDir])).code).toBe(0);
      const both = await runEntryPoint('agent-mesh', [
        'ca',
        'verify',
        crt,
        '--dir',
        mesh.certsDir,
        '--certs',
        '/tmp',
      ]);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/--dir .* and --certs \/tmp name different directories/);
      const inspect = await runEntryPoint('agent-mesh', ['ca', 'inspect', crt, '-o', 'yaml']);
      expect(parse(inspect.stdout)).toMatchObject({ spiffeId: 'spiffe://agentmesh.local/agent/cli' });
    });

    it('lists every subcommand in --help without loading them, and loads one for help <command>', async () => {
      const help = await runEntryPoint('agent-mesh', ['--help']);
      for (const name of ['version', 'check', 'policies', 'top', 'completion', 'agents', 'up']) {
        expect(help.stdout).toMatch(new RegExp(`^  ${name}\\s`, 'm'));
      }
      const one = await runEntryPoint('agent-mesh', ['help', 'policies']);
      expect(one.stdout).toMatch(/^ {2}validate /m);
    });
  });
});
