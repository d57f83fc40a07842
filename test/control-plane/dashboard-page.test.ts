import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMesh, type TestMesh } from '../helpers/test-mesh.js';

/** A GET of `path` exactly as written (no URL normalisation), with its status, content type and body. */
function getRaw(origin: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const sent = request({ host: hostname, port, path, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, type: response.headers['content-type'] ?? '', body }),
      );
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** The relative module specifiers a module imports (`import … from './x.js'`). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^import\s[^;]*?from\s+'(\.\/[^']+)';/gms)].map((match) => match[1]!);
}

describe('the dashboard page as typed ES modules', () => {
  let mesh: TestMesh;
  let origin: string;

  beforeAll(async () => {
    mesh = await startTestMesh({ httpListen: '127.0.0.1:0' });
    origin = mesh.controlPlane.httpUrl!;
  });

  afterAll(async () => {
    await mesh?.close();
  });

  it('loads its script as a module, and serves every module it imports as type-checked JavaScript', async () => {
    const page = await getRaw(origin, '/');
    expect(page.body).toContain('<script src="/dashboard.js" type="module"></script>');
    const seen = new Set<string>();
    const queue = ['dashboard.js'];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const module = await getRaw(origin, `/${file}`);
      expect(module.status, file).toBe(200);
      expect(module.type, file).toMatch(/^text\/javascript/);
      expect(module.body.startsWith('// @ts-check\n'), `${file} starts with // @ts-check`).toBe(true);
      for (const specifier of importsOf(module.body)) queue.push(specifier.slice(2));
    }
    // The entry module and the parts it is split into, each imported by some module.
    expect(seen.size).toBeGreaterThan(5);
    expect(seen).toContain('dom.js');
  });

  it('serves nothing but the page files: not the server code, its configuration, or files outside the folder', async () => {
    for (const path of [
      '/dashboard-routes.ts',
      '/api-types.d.ts',
      '/tsconfig.json',
      '/index.html',
      '/../operations-view.ts',
      '/%2e%2e/operations-view.ts',
      '/..%2foperations-view.ts',
      '/../../../package.json',
      '//etc/passwd',
    ]) {
      const answer = await getRaw(origin, path);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toMatch(/import |compilerOptions|"name"|root:/);
    }
  });
});
