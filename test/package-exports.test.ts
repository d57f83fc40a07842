import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The package as its users import it: by its name, through the exports map of package.json, from the build in
 * dist/ (`npm test` builds it first, for the API reports). Each import runs in a plain Node.js process, without
 * tsx or vitest's resolver, so that what passes here is what an installed package does. The names each entry
 * exports are compared with its source in src/, which also catches a build older than the sources.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};
const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === 'object' ? [{ specifier: `${pkg.name}${subpath.slice(1)}`, subpath, target }] : [],
);

/** Runs an ES module in a plain Node.js process in the package's folder, and returns what it printed. */
function runModule(source: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '--eval', source],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
}

/** The source of an entry: `.` is src/index.ts, `./control-plane` is src/control-plane/index.ts. */
function sourceOf(subpath: string): string {
  return subpath === '.' ? '../src/index.ts' : `../src/${subpath.slice(2)}/index.ts`;
}

describe('package exports', () => {
  it('maps every entry to a declaration file and a module of the build', () => {
    for (const { target } of entries) {
      expect(target.types).toMatch(/^\.\/dist\/src\/(.+\/)?index\.d\.ts$/);
      expect(target.default).toBe(target.types.replace(/\.d\.ts$/, '.js'));
      expect(existsSync(`${root}${target.default}`), `${target.default} is missing: run npm run build`).toBe(
        true,
      );
    }
  });

  it('imports each entry by the package name, with the names its source exports', async () => {
    const specifiers = JSON.stringify(entries.map((entry) => entry.specifier));
    const result = await runModule(`
      const names = {};
      for (const specifier of ${specifiers}) names[specifier] = Object.keys(await import(specifier)).sort();
      console.log(JSON.stringify(names));
    `);
    expect(result.stderr).toBe('');
    const built = JSON.parse(result.stdout) as Record<string, string[]>;
    for (const { specifier, subpath } of entries) {
      const source = Object.keys((await import(sourceOf(subpath))) as object).sort();
      expect(built[specifier], `${specifier} (rebuild with npm run build if src/ changed)`).toEqual(source);
    }
    expect(built['agent-mesh']).toEqual(expect.arrayContaining(['startAgent', 'MeshClient', 'MeshError']));
    expect(built['agent-mesh/control-plane']).toEqual(
      expect.arrayContaining(['ControlPlaneState', 'Registrar']),
    );
    expect(built['agent-mesh']).not.toContain('ControlPlaneState');
  });

  it('refuses a module that is not an entry', async () => {
    const result = await runModule(`
      try {
        await import('${pkg.name}/dist/src/control-plane/state.js');
      } catch (error) {
        console.log(error.code);
      }
    `);
    expect(result.stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
