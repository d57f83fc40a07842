/**
 * The README's commands work when pasted in the order given, on a fresh clone: the blocks of README.md,
 * examples/README.md and examples/python/README.md are read from the pages at test time and run in one shell, in a
 * copy of the repository's tracked files (a fresh clone: no certs/, no generated stubs) that shares this checkout's
 * node_modules. test/helpers/readme-blocks.ts has the annotation convention (`<!-- readme-test: ... -->`).
 *
 * `npx agent-mesh` and `npx tsx` are mapped to the local CLI and tsx by an `npx` in a temporary directory first on
 * PATH: a real `npx agent-mesh` would install the checkout into npm's cache and run its build (slow, and it needs
 * dist/); any other `npx` fails, so the test never fetches a package. `npm run ...` is the real npm.
 *
 * The pages use the fixed ports of `npm start` (7400, 7401, 9464, 7410, all on 127.0.0.1): when one is busy (a
 * developer's own `npm start`), the test fails naming it. Every background command runs in a process group of its
 * own, which afterAll stops (SIGTERM, then SIGKILL); the shell has its own group too.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenAltNames } from '../src/control-plane/own-certificate.js';
import { ensureCaDir, issueToDir } from '../src/identity/certs-dir.js';
import { readCertificate } from '../src/identity/x509.js';
import { requirePythonModules } from './helpers/python.js';
import { parseReadme, type ReadmeCommand, type ReadmeStep } from './helpers/readme-blocks.js';
import { findOnPath } from './helpers/system-binary.js';
import { makeTempDir } from './helpers/temp-dir.js';
import { startTestMesh, type TestMesh } from './helpers/test-mesh.js';
import { until } from './helpers/until.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** A bound on one command: `npm run ca` starts tsx, which takes seconds on a loaded machine. */
const STEP_TIMEOUT_MS = 100_000;

const python = requirePythonModules(['grpc', 'grpc_tools'], 'python3-grpcio python3-grpc-tools');
const pages = ['README.md', 'examples/README.md', ...(python ? ['examples/python/README.md'] : [])];
// curl runs the A2A requests of README.md; .ci/run does not install it by name, so a missing one skips them
// (with the reason printed) rather than failing CI.
const curl = findOnPath('curl');
if (!curl)
  console.warn('skipping the README commands that run curl: curl is not on PATH (Debian package curl)');
const steps: Array<{ page: string; step: ReadmeStep }> = pages.flatMap((page) =>
  parseReadme(page, readFileSync(join(root, page), 'utf8')).map((step) => ({ page, step })),
);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/** Whether process `pid` runs (its group may not exist yet: setsid makes it once the process has started). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process group: SIGTERM (the programs drain and exit), then SIGKILL after a bounded wait. */
async function stopGroup(pgid: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  await until(() => !signalGroup(pgid, 0), `process group ${pgid} exits`, 15_000).catch(() => {
    signalGroup(pgid, 'SIGKILL');
  });
}

/** A command's last line without its shell comment: the redirections of a background command go after it. */
function withoutComment(text: string): string {
  return text.replace(/\s+#[^'"\n]*$/, '');
}

describe('the commands of the README and examples/ pages, in order, on a fresh clone', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let shell: ChildProcess;
  let shellOutput = '';
  let runtime: string;
  let counter = 0;
  /** The first command that failed: the commands build on each other, so the rest fail at once, not by timing out. */
  let failed: string | undefined;
  async function guarded(where: string, run: () => Promise<void>): Promise<void> {
    if (failed) throw new Error(`not run: ${failed} failed before`);
    try {
      await run();
    } catch (error) {
      failed = where;
      throw error;
    }
  }
  const background: Array<{ command: ReadmeCommand; pgid: number; file: string; output: string }> = [];
  const socketDir = `/tmp/agent-mesh-${process.getuid?.() ?? 0}/py-shouter-1`;
  const socketDirExisted = existsSync(socketDir);

  /** Writes `script` to the shell and resolves with the exit code and output of its step `id`. */
  async function inShell(id: number, script: string): Promise<string> {
    shell.stdin!.write(`${script}\n`);
    const done = new RegExp(`^__READMETEST_DONE ${id} (\\d+)$`, 'm');
    await until(
      () => done.test(shellOutput) || shell.exitCode !== null,
      `the shell runs step ${id}`,
      STEP_TIMEOUT_MS,
    );
    const match = done.exec(shellOutput);
    if (!match) throw new Error(`the shell exited:\n${shellOutput}`);
    return match[1]!;
  }

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-readme-');
    const repo = join(temp.dir, 'repo');
    runtime = join(temp.dir, 'run');
    const bin = join(temp.dir, 'bin');
    await mkdir(runtime, { recursive: true });
    await mkdir(bin, { recursive: true });
    // A fresh clone: the files git tracks (and new ones it would), as they are in this working tree.
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    }).split('\0');
    for (const file of files.filter(Boolean)) {
      if (!existsSync(join(root, file))) continue; // deleted in the working tree
      await mkdir(dirname(join(repo, file)), { recursive: true });
      await copyFile(join(root, file), join(repo, file));
    }
    await symlink(realpathSync(join(root, 'node_modules')), join(repo, 'node_modules'));
    await writeFile(
      join(bin, 'npx'),
      [
        '#!/bin/sh',
        '# npx for the README test: agent-mesh and tsx of the checkout, nothing from the registry.',
        'case "$1" in',
        `  agent-mesh) shift; exec "${process.execPath}" --import tsx "${repo}/src/cli/main.ts" "$@" ;;`,
        `  tsx) shift; exec "${repo}/node_modules/.bin/tsx" "$@" ;;`,
        '  *) echo "npx $1: not mapped by the README test" >&2; exit 127 ;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'npx'), 0o755);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !key.startsWith('AGENT_MESH_') && key !== 'XDG_RUNTIME_DIR',
      ),
    );
    shell = spawn('bash', ['--noprofile', '--norc'], {
      cwd: repo,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    });
    shell.stdout!.on('data', (chunk: Buffer) => (shellOutput += chunk.toString()));
    shell.stderr!.on('data', (chunk: Buffer) => (shellOutput += chunk.toString()));
  });

  afterAll(async () => {
    for (const { pgid } of background.reverse()) await stopGroup(pgid);
    if (shell?.pid) {
      shell.stdin?.end();
      await stopGroup(shell.pid);
    }
    if (!socketDirExisted) await rm(socketDir, { recursive: true, force: true });
    await temp?.remove();
  });

  if (!python)
    it.skip('examples/python/README.md (no /usr/bin/python3 with grpcio: see the warning)', () => {});

  for (const { step } of steps) {
    if (step.kind === 'skipped-block') {
      it.skip(`${step.where}: block skipped: ${step.reason}`, () => {});
      continue;
    }
    if (step.kind === 'output') {
      it(`${step.where}: the output of \`${step.of.split('\n')[0]}\` as shown`, async () => {
        const source = background.find(({ command }) => command.original.startsWith(step.of));
        expect(source, `a background command started from ${step.of}`).toBeDefined();
        const output = await readFile(source!.file, 'utf8');
        for (const line of step.lines) expect(output).toMatch(line);
      });
      continue;
    }
    const command = step;
    const title = `${command.where}: ${command.original.split('\n')[0]}`;
    if (!curl && command.text.startsWith('curl ')) command.skip ??= 'curl is not on PATH';
    if (command.skip) {
      it.skip(`${title} (skipped: ${command.skip})`, () => {});
      continue;
    }
    it(
      title,
      () =>
        guarded(command.where, async () => {
          for (const port of command.freePorts ?? []) {
            expect(
              await portFree(port),
              `127.0.0.1:${port} is in use (your own \`npm start\`?): the README's commands use its fixed ports; stop it and run the test again`,
            ).toBe(true);
          }
          if (command.stops) {
            const running = background.find((entry) => entry.command.original.startsWith(command.stops!));
            expect(running, `a background command started from ${command.stops}`).toBeDefined();
            await stopGroup(running!.pgid);
            background.splice(background.indexOf(running!), 1);
          }
          counter += 1;
          const id = counter;
          const out = join(runtime, `step-${id}.out`);
          if (command.background) {
            // setsid: a process group of its own, to stop it (and all it starts) as a whole. The shell expands the
            // command's variables first, as a terminal would.
            const pidFile = join(runtime, `step-${id}.pid`);
            const code = await inShell(
              id,
              `setsid ${withoutComment(command.text)} > '${out}' 2>&1 < /dev/null & echo $! > '${pidFile}'; echo "__READMETEST_DONE ${id} $?"`,
            );
            expect(code).toBe('0');
            const entry = { command, pgid: Number(await readFile(pidFile, 'utf8')), file: out, output: '' };
            background.push(entry);
            const ready = command.background.ready;
            await until(
              async () => {
                entry.output = await readFile(out, 'utf8').catch(() => '');
                if (entry.output.includes(ready)) return true;
                if (!alive(entry.pgid))
                  throw new Error(`it exited before printing ${ready}:\n${entry.output}`);
                return false;
              },
              `${command.where} prints ${ready}`,
              STEP_TIMEOUT_MS,
            );
            return;
          }
          // In braces, so that an assignment (TOKEN=$(...)) stays in the shell for the next commands; the newline
          // ends a trailing comment.
          const code = await inShell(
            id,
            `{ ${command.text}\n} > '${out}' 2>&1 < /dev/null; echo "__READMETEST_DONE ${id} $?"`,
          );
          const output = await readFile(out, 'utf8');
          expect(code, `exit code of ${command.where}; it printed:\n${output}`).toBe('0');
          if (command.expect !== undefined) expect(output).toContain(command.expect);
          if (command.shows) {
            const { in: prefix, text } = command.shows;
            const source = background.find((entry) => entry.command.original.startsWith(prefix));
            expect(source, `a background command started from ${prefix}`).toBeDefined();
            await until(
              async () => (await readFile(source!.file, 'utf8')).includes(text),
              `${source!.command.where} prints ${text}`,
              STEP_TIMEOUT_MS,
            );
          }
        }),
      STEP_TIMEOUT_MS + 60_000,
    );
  }
});

describe("the control plane's certificate, which the README's direct Python agent checks by address", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  const meshes: TestMesh[] = [];

  beforeAll(async () => {
    temp = await makeTempDir('agent-mesh-own-sans-');
  });

  afterAll(async () => {
    for (const mesh of meshes) await mesh.close();
    await temp?.remove();
  });

  it('names the host it listens on from the start: no `ca issue control-plane --ip` and no restart needed', async () => {
    const dir = join(temp.dir, 'plain');
    await mkdir(dir);
    await ensureCaDir(dir, 'agentmesh.local');
    const issued = await issueToDir(dir, 'control-plane'); // a SPIFFE ID only, as `npm start` issues it
    const mesh = await startTestMesh({ certsDir: dir });
    meshes.push(mesh);
    const served = readCertificate(mesh.controlPlane.identity.current.certificatePem);
    expect(served.altNames.ipAddresses).toEqual(['127.0.0.1']);
    expect(served.altNames.uris).toEqual(['spiffe://agentmesh.local/control-plane']);
    // Signed again over the same key, valid as long as the certificate it started with.
    expect(mesh.controlPlane.identity.expiresAt).toBe(issued.notAfter.getTime());
    expect(mesh.controlPlane.identity.current.privateKeyPem).toBe(
      await readFile(join(dir, 'control-plane.key'), 'utf8'),
    );
  });

  it('keeps the SANs it was issued with and its listen host through a renewal', async () => {
    const dir = join(temp.dir, 'renewed');
    await mkdir(dir);
    await ensureCaDir(dir, 'agentmesh.local');
    await issueToDir(dir, 'control-plane', {
      ttlMs: 15_000,
      dnsNames: ['cp.example'],
      ipAddresses: ['10.1.2.3'],
    });
    const mesh = await startTestMesh({ certsDir: dir });
    meshes.push(mesh);
    const first = mesh.controlPlane.identity.expiresAt;
    // It renews at half the remaining lifetime: within 8 s here; the bound is for a loaded machine.
    await until(
      () => mesh.controlPlane.identity.expiresAt > first,
      'the control plane renews itself',
      60_000,
    );
    const renewed = readCertificate(mesh.controlPlane.identity.current.certificatePem);
    expect(renewed.altNames.dnsNames).toEqual(['cp.example']);
    expect([...renewed.altNames.ipAddresses].sort()).toEqual(['10.1.2.3', '127.0.0.1']);
  });

  it('adds no SAN for an unspecified address, and a name or an IPv6 address as such', () => {
    expect(listenAltNames('0.0.0.0:7400')).toEqual({ dnsNames: [], ipAddresses: [] });
    expect(listenAltNames('[::]:7400')).toEqual({ dnsNames: [], ipAddresses: [] });
    expect(listenAltNames('[::1]:7400')).toEqual({ dnsNames: [], ipAddresses: ['::1'] });
    expect(listenAltNames('LocalHost:7400')).toEqual({ dnsNames: ['localhost'], ipAddresses: [] });
  });
});
