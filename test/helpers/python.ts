import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnWatched, type RunningEntryPoint } from './run-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Debian's interpreter, which python3-grpcio and python3-grpc-tools serve (the first python3 on PATH may not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * Finds /usr/bin/python3 with `modules` importable. On a developer's machine a missing one skips the test with a
 * printed reason; in CI (CI=true), where `.ci/run` installs them, it is an error.
 * @returns the interpreter's path, or undefined when the caller should skip.
 */
export function requirePythonModules(modules: string[], debianPackages: string): string | undefined {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', `import ${modules.join(', ')}`], { stdio: 'pipe', timeout: 30_000 });
    return SYSTEM_PYTHON;
  } catch (error) {
    const detail =
      (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? String(error);
    const reason = `${SYSTEM_PYTHON} cannot import ${modules.join(', ')} (${detail}; Debian packages ${debianPackages}; .ci/run installs them)`;
    if (process.env.CI === 'true') throw new Error(`CI must have ${reason}`);
    console.warn(`skipping tests that need Python: ${reason}`);
    return undefined;
  }
}

/** Starts a Python program of the repository (e.g. examples/python/agent.py) as a child process. */
export function spawnPython(python: string, script: string, args: string[]): RunningEntryPoint {
  return spawnWatched(python, ['-u', `${root}${script}`, ...args], {}, 'SIGTERM');
}
