/**
 * Generates TypeScript types from proto files with `proto-loader-gen-types`, using the same loader options as
 * the run time (src/transport/proto-options.ts). Run as `npm run generate`; never edit the output by hand.
 * `npm run generate -- --check` regenerates into a temporary directory and fails when the committed output differs
 * (`npm run lint` runs it), so a proto change cannot land without its types.
 *
 * Targets: the mesh's own contract (proto/ -> src/generated/) and the example user service in
 * test/fixtures/proto (-> test/fixtures/generated/), which shows how a user's own service gets the same treatment.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTO_LOAD_OPTIONS } from '../src/transport/proto-options.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

interface Target {
  includeDir: string;
  protoDir: string;
  outDir: string;
}

const targets: Target[] = [
  { includeDir: 'proto', protoDir: 'proto/agentmesh/v1', outDir: 'src/generated' },
  { includeDir: 'test/fixtures/proto', protoDir: 'test/fixtures/proto', outDir: 'test/fixtures/generated' },
];

const optionFlags = [
  PROTO_LOAD_OPTIONS.keepCase ? ['--keepCase'] : [],
  ['--longs', PROTO_LOAD_OPTIONS.longs.name],
  ['--enums', PROTO_LOAD_OPTIONS.enums.name],
  PROTO_LOAD_OPTIONS.defaults ? ['--defaults'] : [],
  PROTO_LOAD_OPTIONS.oneofs ? ['--oneofs'] : [],
].flat();

const generator = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');

function generate(target: Target, outDir: string): number {
  const protoDir = join(root, target.protoDir);
  const files = readdirSync(protoDir)
    .filter((name) => name.endsWith('.proto'))
    .sort()
    .map((name) => relative(join(root, target.includeDir), join(protoDir, name)));
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    generator,
    [
      ...optionFlags,
      '--grpcLib=@grpc/grpc-js',
      '--includeComments',
      '--importFileExtension=.js',
      // Relative to the repository root, so that the generated headers name the proto the same on every machine.
      `--includeDirs=${target.includeDir}`,
      `--outDir=${outDir}`,
      ...files,
    ],
    { stdio: 'inherit', cwd: root },
  );
  return files.length;
}

/** Every file under `dir`, as paths relative to it, with their contents. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, 'utf8'));
    }
  };
  try {
    walk(dir);
  } catch {
    // a missing directory is an empty snapshot
  }
  return files;
}

let stale = 0;
for (const target of targets) {
  if (!check) {
    const count = generate(target, join(root, target.outDir));
    console.log(`generated ${target.outDir}/ from ${count} proto file(s) in ${target.protoDir}/`);
    continue;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'agent-mesh-generate-'));
  try {
    generate(target, scratch);
    const fresh = snapshot(scratch);
    const committed = snapshot(join(root, target.outDir));
    const names = new Set([...fresh.keys(), ...committed.keys()]);
    const differing = [...names].filter((name) => fresh.get(name) !== committed.get(name));
    if (differing.length > 0) {
      stale += differing.length;
      console.error(
        `${target.outDir}/ is out of date with ${target.protoDir}/ (${differing.join(', ')}): run npm run generate`,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
if (stale > 0) process.exitCode = 1;
