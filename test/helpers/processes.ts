/**
 * The parts of a mesh as separate processes, for fault-injection tests: a control plane run by `agent-mesh
 * control-plane` (killed, stopped and restarted like a real one), worker agents (test/fixtures/agents), and what a
 * test measures of them (memory, log lines).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureCaDir, ensureIdentity } from '../../src/identity/certs-dir.js';
import { spawnEntryPoint, spawnScript, type RunningEntryPoint } from './run-cli.js';
import { makeTempDir } from './temp-dir.js';
import { moduleUrl } from './module-url.js';

const WORKER = fileURLToPath(moduleUrl('../fixtures/agents/worker-agent.ts', import.meta.url));

/** A certificate directory with a fresh CA and the control plane's identity; agents' identities are added to it. */
export async function makeCertsDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const temp = await makeTempDir('agent-mesh-faults-');
  await ensureCaDir(temp.dir, 'agentmesh.local');
  await ensureIdentity(temp.dir, 'control-plane');
  return temp;
}

/** Options of a control-plane process. */
export interface ControlPlaneProcessOptions {
  certsDir: string;
  /** `host:port` to listen on (a fixed port, so that a restart comes back at the same address). */
  listen: string;
  /** etcd client URLs for the etcd store; the in-memory store without them. */
  etcdEndpoints?: readonly string[];
  logLevel?: string;
  /** More flags, e.g. `['--events', 'nats://...']`. */
  flags?: readonly string[];
}

/** Starts `agent-mesh control-plane` and resolves once it serves. */
export async function startControlPlaneProcess(
  options: ControlPlaneProcessOptions,
): Promise<RunningEntryPoint> {
  const store = options.etcdEndpoints
    ? ['--store', 'etcd', '--etcd-endpoints', options.etcdEndpoints.join(',')]
    : ['--store', 'memory'];
  const process = spawnEntryPoint([
    'control-plane',
    ...['--listen', options.listen, '--certs', options.certsDir, '--log-level', options.logLevel ?? 'info'],
    ...store,
    ...(options.flags ?? []),
  ]);
  await process.waitFor(/control plane serving on/, 60_000);
  return process;
}

/** Options of a worker agent process (see test/fixtures/agents/worker-agent.ts for what the settings do). */
export interface WorkerOptions {
  certsDir: string;
  /** One address, or several separated by commas. */
  controlPlane: string;
  name: string;
  type?: string;
  /** WORKER_* settings, e.g. `{ WORKER_CALL: 'worker', WORKER_LOG_LEVEL: 'info' }`. */
  env?: Record<string, string>;
}

/** Issues the worker's identity, starts it, and resolves once it has registered. */
export async function startWorker(options: WorkerOptions): Promise<RunningEntryPoint> {
  await ensureIdentity(options.certsDir, options.name, { types: [options.type ?? 'worker'] });
  const worker = spawnScript(
    WORKER,
    [options.certsDir, options.controlPlane, options.name, options.type ?? 'worker'],
    options.env ?? {},
  );
  await worker.waitFor(/ready /, 60_000);
  return worker;
}

/** The resident memory of a process, in bytes (Linux: /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}

/** One JSON log line of a process's pino log. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The JSON log lines in `output` (other lines, e.g. a fixture's own prints, are left out). */
export function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (typeof parsed.msg === 'string') lines.push(parsed);
    } catch {
      // a line cut short by a kill
    }
  }
  return lines;
}

/** The latest `calls ok=<n> failed=<n>` a load-generating worker printed. */
export function callCounts(output: string): { ok: number; failed: number } {
  const all = [...output.matchAll(/^calls ok=(\d+) failed=(\d+)$/gm)];
  const last = all.at(-1);
  return last ? { ok: Number(last[1]), failed: Number(last[2]) } : { ok: 0, failed: 0 };
}

/** The `call failed ...` lines a load-generating worker printed. */
export function failedCalls(output: string): string[] {
  return [...output.matchAll(/^call failed .*$/gm)].map((match) => match[0]);
}
