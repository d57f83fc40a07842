/**
 * The API reports of the package's entry points, one per entry of package.json's `exports` map, made by API
 * Extractor from the build's declarations (run `npm run build` first; the npm scripts do). `npm run api` writes
 * them to api/; `npm run api:check` (part of `npm test`) fails when one differs from the build, printing which, so
 * an API change shows in review and cannot land without its report. All entries share one compiler analysis.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import extractor from '@microsoft/api-extractor';

const { CompilerState, Extractor, ExtractorConfig } = extractor;
const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

interface Entry {
  /** The report's base name: `agent-mesh` for the root, `agent-mesh-control-plane` for `./control-plane`. */
  report: string;
  /** The entry's declaration file, relative to the root. */
  dts: string;
}

/** The entries of the exports map that have types: the package's public entry points. */
function entries(): Entry[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  return Object.entries(pkg.exports).flatMap(([subpath, target]) =>
    typeof target === 'object' && target.types
      ? [{ report: [pkg.name, subpath.slice(2)].filter(Boolean).join('-'), dts: target.types.slice(2) }]
      : [],
  );
}

const configFile = join(root, 'api-extractor.json');
const base = ExtractorConfig.loadFile(configFile);
const all = entries();
const missing = all.filter((entry) => !existsSync(join(root, entry.dts)));
if (missing.length > 0) {
  console.error(
    `api-report: no declarations at ${missing.map((entry) => entry.dts).join(', ')}: run npm run build`,
  );
  process.exit(1);
}
const configFor = (entry: Entry) =>
  ExtractorConfig.prepare({
    configObject: {
      ...base,
      mainEntryPointFilePath: `<projectFolder>/${entry.dts}`,
      apiReport: { ...base.apiReport!, enabled: true, reportFileName: entry.report },
    },
    configObjectFullPath: configFile,
    packageJsonFullPath: join(root, 'package.json'),
  });
const compilerState = CompilerState.create(configFor(all[0]!), {
  additionalEntryPoints: all.map((entry) => join(root, entry.dts)),
});

/** Messages that the summary at the end replaces. */
const QUIET = new Set<string>([
  'console-api-report-not-copied',
  'console-api-report-copied',
  'console-api-report-created',
  'console-compiler-version-notice',
  'console-preamble',
]);
const changed: string[] = [];
let failed = false;
for (const entry of all) {
  const result = Extractor.invoke(configFor(entry), {
    localBuild: !check,
    compilerState,
    messageCallback(message) {
      // A changed report is summarized below, with the command that updates it; the compiler notice is noise.
      if (QUIET.has(message.messageId)) message.handled = true;
    },
  });
  if (result.apiReportChanged) changed.push(`api/${entry.report}.api.md`);
  if (result.errorCount > 0) failed = true;
}

if (check && changed.length > 0) {
  for (const report of changed) {
    // What changed, as a reviewer sees it (diff is everywhere CI runs; without it only the names are printed).
    spawnSync('diff', ['-u', join(root, report), join(root, 'dist', report)], { stdio: 'inherit' });
  }
  console.error(
    `api-report: the public API differs from ${changed.join(', ')}.\n` +
      'Review the change, then run `npm run api` and commit the updated reports (the new ones are in dist/api/).',
  );
  process.exit(1);
}
if (failed) process.exit(1);
console.log(
  check
    ? `api-report: ${all.length} API reports match the build`
    : `api-report: ${changed.length > 0 ? `updated ${changed.join(', ')}` : `${all.length} API reports up to date`}`,
);
