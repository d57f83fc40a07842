import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = `${root}node_modules/.bin/tsx`;

/** What a finished command printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the project's entry points (`src/cli/main.ts` for `agent-mesh`, `scripts/ca.ts` for `npm run ca`)
 * as a separate process, the way a user does.
 */
export function runEntryPoint(
  entry: 'agent-mesh' | 'ca-script',
  args: string[],
  cwd = root,
  input?: string,
): Promise<CliResult> {
  const script = entry === 'agent-mesh' ? `${root}src/cli/main.ts` : `${root}scripts/ca.ts`;
  // Flags alone decide: a developer's own AGENT_MESH_* settings must not leak into the test.
  const env = cleanEnv();
  return new Promise((resolve) => {
    const child = execFile(
      tsx,
      [script, ...args],
      { cwd, env, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    // What the command reads on its standard input (`-` payloads); nothing (end of input) when not given.
    child.stdin?.end(input ?? '');
  });
}

/** A long-running `agent-mesh` process started by a test. */
export interface RunningEntryPoint {
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output, or rejects after `timeoutMs` or if it exits. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (by default the one the program stops on: SIGINT, or SIGTERM for Python) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The process id. */
  readonly pid: number;
  /** Sends `signal` (SIGSTOP, SIGCONT, SIGTERM, ...) without waiting for anything. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  exited(): Promise<number | null>;
}

/** Starts `agent-mesh <args>` as a separate process, as a user would, for commands that keep running. */
export function spawnEntryPoint(args: string[], env: Record<string, string> = {}): RunningEntryPoint {
  return spawnScript(`${root}src/cli/main.ts`, args, env);
}

/**
 * Starts a TypeScript program as one Node.js process (`node --import tsx`, no wrapper process in between, so that
 * a signal, SIGKILL included, reaches the program itself). AGENT_MESH_* settings of the developer's shell are
 * dropped; `env` adds the test's own.
 */
export function spawnScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): RunningEntryPoint {
  return spawnWatched(process.execPath, ['--import', 'tsx', script, ...args], env, 'SIGINT');
}

/** The environment of this process without the developer's AGENT_MESH_* settings. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AGENT_MESH_')));
}

/**
 * Starts `command` in the repository's root with a clean environment (plus `env`) and watches its output: the
 * {@link RunningEntryPoint} of any program a test starts (TypeScript, Python, ...). `stop()` sends `stopSignal`
 * unless another is given.
 */
export function spawnWatched(
  command: string,
  args: string[],
  env: Record<string, string>,
  stopSignal: NodeJS.Signals,
): RunningEntryPoint {
  const child = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cleanEnv(), ...env },
  });
  let output = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => output,
    waitFor(pattern, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) finish(() => resolve(match));
        };
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs}ms:\n${output}`))),
          timeoutMs,
        );
        void exited.then(() => finish(() => reject(new Error(`exited before ${pattern}:\n${output}`))));
        listeners.add(check);
        check();
      });
    },
    async stop(signal = stopSignal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    pid: child.pid!,
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited: () => exited,
  };
}
