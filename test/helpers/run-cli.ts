import { execFile } from 'node:child_process';
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
): Promise<CliResult> {
  const script = entry === 'agent-mesh' ? `${root}src/cli/main.ts` : `${root}scripts/ca.ts`;
  // Flags alone decide: a developer's own AGENT_MESH_* settings must not leak into the test.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('AGENT_MESH_')),
  );
  return new Promise((resolve) => {
    execFile(tsx, [script, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
