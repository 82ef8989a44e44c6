/**
 * The floor of a function's bundle: an entry that imports only the AWS SDK
 * and Powertools names the function uses, and touches each at load the way
 * the handlers do (clients and Powertools utilities constructed, commands and
 * error classes referenced), so none is tree-shaken away.
 *
 * It is derived from the function's own bundle, so it follows the handlers
 * as they change: the candidates are the names its first-party files import
 * from those packages; a class or function counts only if it survived tree
 * shaking (the bundle keeps names, so its name is in the output as a string),
 * and any other value (an enum object such as `MetricUnit`) counts when its
 * package is in the bundle at all. Figure 4 builds it exactly like the
 * function.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type BuiltBundle } from './build.js';

/** Packages whose parts make up a floor. */
const FLOOR_PACKAGES = /^(@aws-sdk\/client-[\w-]+|@aws-lambda-powertools\/[\w-]+)$/;

/** `import { A, type B, C as D } from 'pkg'`, `import type` excluded. */
const NAMED_IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*'([^']+)'/g;

export interface Floor {
  /** TypeScript source of the floor's entry. */
  source: string;
  /** What it holds, as `package: Name, Name`. */
  parts: string[];
}

/** The floor of the function bundled as `fn`. */
export async function floorFor(fn: BuiltBundle, serviceName: string): Promise<Floor> {
  const output = readFileSync(fn.file, 'utf8');
  const names = new Map<string, Set<string>>();
  for (const [pkg, candidates] of importedNames(fn.ownFiles)) {
    const exports = (await import(pkg)) as Record<string, unknown>;
    const used = [...candidates].filter((name) =>
      typeof exports[name] === 'function'
        ? output.includes(`"${name}"`)
        : (fn.bytesBySource[pkg] ?? 0) > 0,
    );
    if (used.length > 0) names.set(pkg, new Set(used));
  }

  const packages = [...names.keys()].sort();
  const imports = packages.map(
    (pkg) => `import { ${[...names.get(pkg)!].sort().join(', ')} } from '${pkg}';`,
  );
  const touches = packages.flatMap((pkg) =>
    [...names.get(pkg)!].sort().map((name) => touch(name, serviceName)),
  );
  const source = [
    ...imports,
    `const parts: unknown[] = [\n  ${touches.join(',\n  ')},\n];`,
    'export async function handler(): Promise<unknown> {',
    '  return parts;',
    '}',
    '',
  ].join('\n');
  return {
    source,
    parts: packages.map((pkg) => `${pkg}: ${[...names.get(pkg)!].sort().join(', ')}`),
  };
}

/** Per floor package, the value names that `files` import from it. */
function importedNames(files: string[]): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const file of files) {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    for (const [, typeOnly, list, from] of text.matchAll(NAMED_IMPORT)) {
      if (typeOnly || !FLOOR_PACKAGES.test(from!)) continue;
      const set = names.get(from!) ?? new Set<string>();
      valueNames(list!).forEach((name) => set.add(name));
      names.set(from!, set);
    }
  }
  return names;
}

/** Value names of one import list: `type X` left out, `X as Y` read as `X`. */
function valueNames(list: string): string[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '' && !entry.startsWith('type '))
    .map((entry) => entry.split(/\s+as\s+/)[0]!);
}

/** How the handlers use a name at load: clients and utilities are constructed. */
function touch(name: string, serviceName: string): string {
  if (name.endsWith('Client')) return `new ${name}({})`;
  if (name === 'Logger' || name === 'Metrics' || name === 'Tracer') {
    return `new ${name}({ serviceName: '${serviceName}' })`;
  }
  return name;
}
