import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The path of an executable on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Finds a system binary a test needs. On a developer's machine a missing one skips the test with a printed
 * reason; in CI (CI=true), where `.ci/run` installs it, a missing one is an error.
 * @returns the path, or undefined when the caller should skip.
 */
export function requireSystemBinary(name: string, debianPackage: string): string | undefined {
  const found = findOnPath(name);
  if (found) return found;
  const reason = `${name} is not on PATH (Debian package ${debianPackage}; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`CI must have ${reason}`);
  console.warn(`skipping tests that need ${name}: ${reason}`);
  return undefined;
}
