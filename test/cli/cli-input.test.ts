import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkControlPlane } from '../../src/cli/client-options.js';
import { Code, MeshError } from '../../src/core/errors.js';
import { ensureCaDir, ensureIdentity } from '../../src/identity/certs-dir.js';
import { runEntryPoint, type CliResult } from '../helpers/run-cli.js';
import { createTestCa } from '../helpers/test-ca.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs a TypeScript program of the project (the CLI or an example) as a user would, with `env` as its only
 * AGENT_MESH_* settings (the developer's own are dropped).
 */
function runWithEnv(script: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('AGENT_MESH_')),
  );
  return new Promise((resolve) => {
    execFile(
      `${root}node_modules/.bin/tsx`,
      [`${root}${script}`, ...args],
      { cwd: root, env: { ...clean, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** What a user sees for a bad flag: one line on stderr, no stack trace. */
function expectOneLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('bad command-line input: one clear line and a non-zero exit, before anything starts', () => {
  it('refuses an unknown log level on every command that logs, from the flag or AGENT_MESH_LOG_LEVEL', async () => {
    const choices = /Allowed choices are fatal, error, warn, info, debug, trace, silent/;
    const results = await Promise.all([
      runEntryPoint('agent-mesh', ['control-plane', '--log-level', 'verbose']),
      runEntryPoint('agent-mesh', ['up', '--log-level', 'verbose']),
      runEntryPoint('agent-mesh', ['subscribe', 'tasks.>', '--log-level', 'verbose']),
      runEntryPoint('agent-mesh', [
        'sidecar',
        '--name',
        'x',
        '--type',
        'x',
        '--app',
        '127.0.0.1:1',
        '--log-level',
        'verbose',
      ]),
      runEntryPoint('agent-mesh', ['call', 'echo', 'echo', '{}', '--log-level', 'verbose']),
      runWithEnv('src/cli/main.ts', ['control-plane'], { AGENT_MESH_LOG_LEVEL: 'verbose' }),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2);
      expectOneLine(result, choices);
    }
    expect(results.at(-1)!.stderr).toMatch(/from env 'AGENT_MESH_LOG_LEVEL'/);
  });

  it('lets a standalone example report an unknown AGENT_MESH_LOG_LEVEL in one line', async () => {
    const result = await runWithEnv('examples/summarizer-agent.ts', [], { AGENT_MESH_LOG_LEVEL: 'verbose' });
    expect(result.code).toBe(1);
    expectOneLine(
      result,
      /invalid log level "verbose" in AGENT_MESH_LOG_LEVEL: use one of fatal, error, warn, info, debug, trace, silent/,
    );
  });

  it('lets a standalone example report an empty or malformed AGENT_MESH_CONTROL_PLANE in one line', async () => {
    const certs = await makeTempDir();
    let results: CliResult[];
    try {
      await ensureCaDir(certs.dir, 'agentmesh.local');
      await ensureIdentity(certs.dir, 'summarizer-3');
      results = await Promise.all(
        ['', '127.0.0.1:7400,,127.0.0.1:7401'].map((value) =>
          runWithEnv('examples/summarizer-agent.ts', [], {
            AGENT_MESH_CERTS: certs.dir,
            AGENT_MESH_CONTROL_PLANE: value,
          }),
        ),
      );
    } finally {
      await certs.remove();
    }
    expect(results[0]!.code).toBe(1);
    expectOneLine(
      results[0]!,
      /^summarizer-3: invalid AGENT_MESH_CONTROL_PLANE "": no control-plane address given/,
    );
    expect(results[1]!.code).toBe(1);
    expectOneLine(results[1]!, /^summarizer-3: invalid AGENT_MESH_CONTROL_PLANE ".*": .*has an empty entry/);
  });

  it('refuses an empty control plane address, from the flag or the environment', async () => {
    const [flag, env] = await Promise.all([
      runEntryPoint('agent-mesh', ['agents', 'list', '--control-plane', '']),
      runWithEnv('src/cli/main.ts', ['call', 'echo', 'echo', '{}'], { AGENT_MESH_CONTROL_PLANE: '' }),
    ]);
    for (const result of [flag, env]) {
      expect(result.code, result.stderr).toBe(2);
      expectOneLine(result, /'--control-plane <host:port>'.* is invalid\. it is empty/);
    }
    expect(env.stderr).toMatch(/from env 'AGENT_MESH_CONTROL_PLANE'/);
  });

  it('turns a malformed control-plane address into a clear MeshError naming it', async () => {
    const identity = await (await createTestCa()).identity('cli');
    for (const [address, reason] of [
      ['', /no control-plane address given/],
      ['127.0.0.1:7400,,127.0.0.1:7401', /has an empty entry/],
      ['127.0.0.1:99999', /invalid control-plane address "127\.0\.0\.1:99999"/],
    ] as const) {
      const error = await checkControlPlane(identity, address).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MeshError);
      expect((error as MeshError).code).toBe(Code.INVALID_ARGUMENT);
      expect((error as MeshError).message).toMatch(reason);
      expect((error as MeshError).message).toMatch(/\(set --control-plane or AGENT_MESH_CONTROL_PLANE\)$/);
    }
  });

  it('refuses an empty agent type, method, id or filter instead of meaning "any"', async () => {
    const results = await Promise.all([
      runEntryPoint('agent-mesh', ['call', '', 'summarize', '{}']),
      runEntryPoint('agent-mesh', ['call', 'summarizer', ' ', '{}']),
      runEntryPoint('agent-mesh', ['agents', 'list', '--type', '']),
      runEntryPoint('agent-mesh', ['agents', 'list', '--capability', ' ']),
      runEntryPoint('agent-mesh', ['agents', 'show', '']),
      runEntryPoint('agent-mesh', ['subscribe', 'tasks.>', '--group', '']),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2);
      expectOneLine(result, /is invalid.*\. it is empty: give a value/);
    }
  });

  it('refuses a malformed --http-listen or --metrics-listen of `up` as `control-plane` does (exit 2)', async () => {
    const results = await Promise.all([
      runEntryPoint('agent-mesh', ['up', '--http-listen', 'bogus']),
      runEntryPoint('agent-mesh', ['up', '--metrics-listen', 'bogus']),
      runEntryPoint('agent-mesh', ['control-plane', '--http-listen', 'bogus']),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2);
      expectOneLine(result, /invalid HTTP listen address "bogus": use host:port/);
    }
  });
});
