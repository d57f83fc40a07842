/** How benchmarks set up what they measure: a control plane with a fresh CA, and agents in child processes. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type RunningControlPlane } from '../src/control-plane/control-plane.js';
import { MemoryStore } from '../src/control-plane/stores/memory-store.js';
import { ensureCaDir, ensureIdentity } from '../src/identity/certs-dir.js';
import { silentLogger } from '../src/observability/logger.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';

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

/** A TypeScript program in a child process (with this process's tsx loader), stopped with SIGTERM. */
export interface BenchProcess {
  /** The first match of the readiness pattern in the program's output; rejects if it exits first. */
  ready: Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

export function spawnBenchProcess(script: URL, args: string[], readyPattern: RegExp): BenchProcess {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = readyPattern.exec(out);
      if (match) resolve(match);
    });
    child.once('exit', (code) => reject(new Error(`${fileURLToPath(script)} exited (${code})`)));
  });
  return {
    ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
