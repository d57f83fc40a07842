/**
 * The URL of a program beside `base` (an `import.meta.url`), written as its TypeScript source (`./agent.ts`): the
 * source itself when `base` runs from source (under tsx or vitest), or the compiled `.js` beside it when `base` is
 * compiled (the benchmarks run from their build, see tsconfig.bench.json).
 */
export function moduleUrl(path: string, base: string): URL {
  const url = new URL(path, base);
  return base.endsWith('.js') ? new URL(url.href.replace(/\.ts$/, '.js')) : url;
}
