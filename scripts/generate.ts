/**
 * Generates TypeScript types from proto files with `proto-loader-gen-types`, using the same loader options as
 * the run time (src/transport/proto-options.ts). Run as `npm run generate`; never edit the output by hand.
 *
 * Targets: the mesh's own contract (proto/ -> src/generated/) and the example user service in
 * test/fixtures/proto (-> test/fixtures/generated/), which shows how a user's own service gets the same treatment.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTO_LOAD_OPTIONS } from '../src/transport/proto-options.js';

const root = fileURLToPath(new URL('..', import.meta.url));

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

for (const target of targets) {
  const protoDir = join(root, target.protoDir);
  const files = readdirSync(protoDir)
    .filter((name) => name.endsWith('.proto'))
    .sort()
    .map((name) => relative(join(root, target.includeDir), join(protoDir, name)));
  const outDir = join(root, target.outDir);
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    generator,
    [
      ...optionFlags,
      '--grpcLib=@grpc/grpc-js',
      '--includeComments',
      '--importFileExtension=.js',
      `--includeDirs=${join(root, target.includeDir)}`,
      `--outDir=${outDir}`,
      ...files,
    ],
    { stdio: 'inherit', cwd: root },
  );
  console.log(
    `generated ${relative(root, outDir)}/ from ${files.length} proto file(s) in ${target.protoDir}/`,
  );
}
