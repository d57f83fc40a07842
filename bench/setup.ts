/** How benchmarks set up what they measure: a control plane with a fresh CA, and agents in child processes. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type RunningControlPlane } from '../src/control-plane/control-plane.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { moduleUrl } from '../test/helpers/module-url.js';

/** A control plane (memory store) on loopback, with a CA and its identities in a temporary directory. */
export interface BenchMesh {
  certsDir: string;
  controlPlane: RunningControlPlane;
  close(): Promise<void>;
}

export async function startBenchMesh(): Promise<BenchMesh> {
  const temp = await makeTempDir('agent-mesh-bench-');
  await ensureCaDir(temp.dir, 'bench.local');
  await ensureIdentity(temp.dir, 'control-plane');
  const controlPlane = await startControlPlane({
    certsDir: temp.dir,
    listen: '127.0.0.1:0',
    store: new MemoryStore(),
    logger: silentLogger(),
  });
  return {
    certsDir: temp.dir,
    controlPlane,
    async close() {
      await controlPlane.close(0);
      await temp.remove();
    },
  };
}

/** A program of the benchmarks in a child process (with this process's flags: its loader, when it has one), stopped with SIGTERM. */
export interface BenchProcess {
  /** The first match of the readiness pattern in the program's output; rejects if it exits first. */
  ready: Promise<RegExpExecArray>;
  /** The process's CPU time so far (user and system, µs), which it reports on SIGUSR2 (see cpu-report.ts). */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

const CPU_REPORT = moduleUrl('./cpu-report.ts', import.meta.url).href;

export function spawnBenchProcess(script: URL, args: string[], readyPattern: RegExp): BenchProcess {
  const child = spawn(
    process.execPath,
    [...process.execArgv, '--import', CPU_REPORT, fileURLToPath(script), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const cpuReports: Array<(us: number) => void> = [];
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    let partial = '';
    let matched = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (!matched) {
        out += text;
        const match = readyPattern.exec(out);
        if (match) {
          matched = true;
          resolve(match);
        }
      }
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const cpu = /^cpu (\d+)$/.exec(line);
        if (cpu) cpuReports.shift()?.(Number(cpu[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${fileURLToPath(script)} exited (${code})`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    cpu() {
      return new Promise((resolve) => {
        cpuReports.push(resolve);
        child.kill('SIGUSR2');
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The servers a call benchmark compares, each in a process of its own: the mesh agent `echo-1` (type `echo`,
 * test/fixtures/agents/worker-agent.ts) and a plain grpc-js server of the same handler over mTLS (the baseline) and
 * over plaintext (the ceiling), see plain-server.ts; with `lean`, also the plain mTLS server with the mesh's
 * server options.
 */
export async function spawnEchoServers(
  certsDir: string,
  controlPlaneAddress: string,
  { lean = false } = {},
): Promise<{
  agent: BenchProcess;
  plain: BenchProcess;
  plaintext: BenchProcess;
  plainLean: BenchProcess | undefined;
}> {
  await ensureIdentity(certsDir, 'echo-1', { types: ['echo'] });
  await ensureIdentity(certsDir, 'plain-server');
  const plainServer = (mode: 'mtls' | 'mtls-lean' | 'plaintext') =>
    spawnBenchProcess(
      moduleUrl('./plain-server.ts', import.meta.url),
      [certsDir, 'plain-server', mode],
      /ready (\S+)/,
    );
  return {
    agent: spawnBenchProcess(
      moduleUrl('../test/fixtures/agents/worker-agent.ts', import.meta.url),
      [certsDir, controlPlaneAddress, 'echo-1', 'echo'],
      /ready (\S+)/,
    ),
    plain: plainServer('mtls'),
    plaintext: plainServer('plaintext'),
    plainLean: lean ? plainServer('mtls-lean') : undefined,
  };
}
