/**
 * Bundles for the benchmark, built with esbuild exactly as `serverless.yml`
 * (`custom.esbuild`) builds the functions for Lambda: one ESM `.mjs` file,
 * target node20, platform node, module-first main fields, minified with
 * names kept, a linked source map, and the banner that gives bundled
 * CommonJS a `require`. Worker processes are built the same way, so they
 * start as fast and as light as a function would, without a TypeScript
 * loader in the process.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** `custom.esbuild` of serverless.yml, option for option. */
export const FUNCTION_BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  target: 'node20',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  banner: {
    js: "import { createRequire as __tokenBrokerCreateRequire } from 'node:module'; const require = __tokenBrokerCreateRequire(import.meta.url);",
  },
  external: [],
  logLevel: 'silent',
};

export interface BuiltBundle {
  /** Absolute path of the `.mjs` file. */
  file: string;
  /** Size of the `.mjs` file in bytes (the source map not included). */
  bytes: number;
  /** Bytes in the output per package (`node_modules` name) or per first-party folder. */
  bytesBySource: Record<string, number>;
  /** Our own files bundled (outside `node_modules`), relative to the repository root. */
  ownFiles: string[];
}

/** A file to bundle, or source text to bundle as if it lived at the repository root. */
export type BundleEntry = { file: string } | { source: string };

/**
 * Bundles `entry` (a file relative to the repository root, or source text)
 * into `outDir` as `<name>.mjs`.
 */
export async function bundle(
  entry: string | BundleEntry,
  outDir: string,
  name: string,
): Promise<BuiltBundle> {
  const outfile = path.join(outDir, `${name}.mjs`);
  const from: BundleEntry = typeof entry === 'string' ? { file: entry } : entry;
  const { metafile } = await build({
    ...FUNCTION_BUILD_OPTIONS,
    absWorkingDir: REPO_ROOT,
    ...('file' in from
      ? { entryPoints: [path.join(REPO_ROOT, from.file)] }
      : {
          stdin: { contents: from.source, resolveDir: REPO_ROOT, loader: 'ts', sourcefile: name },
        }),
    outfile,
    metafile: true,
  });
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  const bytesBySource: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const source = sourceOf(input);
    bytesBySource[source] = (bytesBySource[source] ?? 0) + bytesInOutput;
  }
  const ownFiles = Object.keys(output?.inputs ?? {}).filter(
    (input) => !input.includes('node_modules/') && !input.startsWith('<stdin>'),
  );
  return { file: outfile, bytes: statSync(outfile).size, bytesBySource, ownFiles };
}

/** `@scope/name` or `name` for a dependency, the top folder (`shared/`) for our own code. */
function sourceOf(input: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (dependency) return dependency[1]!;
  return `${input.split('/')[0]}/`;
}
