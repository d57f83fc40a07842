/**
 * The CLI's start-up: wall time of `agent-mesh --version`, `version --client` (no network), `version` and
 * `agents list` (each a round trip to a control plane in this process), run as the installed command runs
 * (`node dist/src/cli/main.js`, built first), against `node -e 0` (the baseline: Node's own start-up), in the same
 * run. The kinds alternate over 15 rounds; the figures are each kind's median, and what it adds to the baseline.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureIdentity } from '../src/identity/certs-dir.js';
import { median } from './baseline.js';
import { startBenchMesh } from './setup.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = 15;

export async function benchCli(): Promise<Record<string, number>> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const bench = await startBenchMesh();
  try {
    await ensureIdentity(bench.certsDir, 'cli');
    const env = {
      ...process.env,
      AGENT_MESH_CERTS: bench.certsDir,
      AGENT_MESH_CONTROL_PLANE: bench.controlPlane.address,
    };
    const cli = (args: string[]) => ['dist/src/cli/main.js', ...args];
    const kinds: Record<string, string[]> = {
      nodeBaseline: ['-e', '0'],
      dashDashVersion: cli(['--version']),
      versionClient: cli(['version', '--client']),
      version: cli(['version']),
      agentsList: cli(['agents', 'list']),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, args] of Object.entries(kinds)) {
        const started = process.hrtime.bigint();
        await run(process.execPath, args, { cwd: ROOT, env });
        times[name]!.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
    const base = median(times.nodeBaseline!);
    const figures: Record<string, number> = { nodeBaselineMs: base };
    for (const name of Object.keys(kinds).filter((kind) => kind !== 'nodeBaseline')) {
      const ms = median(times[name]!);
      figures[`${name}Ms`] = ms;
      figures[`${name}AddedMs`] = ms - base;
    }
    return figures;
  } finally {
    await bench.close();
  }
}
