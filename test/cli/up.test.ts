import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('`agent-mesh up` (what `npm start` runs)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir();
  });

  afterAll(async () => {
    await temp?.remove();
  });

  it('creates certificates, routes discovered traffic over mTLS to both agents, and exits 0 on SIGINT', async () => {
    const child = spawn(
      `${root}node_modules/.bin/tsx`,
      [
        `${root}src/cli/main.ts`,
        'up',
        '--certs',
        `${temp.dir}/certs`,
        '--listen',
        '127.0.0.1:0',
        '--interval',
        '50ms',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AGENT_MESH_LOG_LEVEL: 'info' } },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let logs = '';
    child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no traffic to both agents within 30s:\n${logs}`)),
          30_000,
        );
        const check = () => {
          if (
            /"callee":"spiffe:\/\/agentmesh.local\/agent\/echo-1"/.test(logs) &&
            /"callee":"spiffe:\/\/agentmesh.local\/agent\/echo-2"/.test(logs)
          ) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stderr.on('data', check);
        child.stdout.on('data', check);
        child.once('exit', () => reject(new Error(`up exited early:\n${logs}`)));
      });
      expect(logs).toMatch(/echo-1 heard spiffe:\/\/agentmesh.local\/agent\/caller/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(logs).toMatch(/"agent":"echo-1","msg":"agent deregistered"/);
  });
});
