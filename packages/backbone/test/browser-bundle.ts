/**
 * Bundles a browser entry that imports @dfm/backbone with esbuild for `platform: 'browser'`, as an
 * app's bundler would, and lists what in the result still needs Node.js. Test helper, not part of
 * the package: used by src/browser-bundle.test.ts (from the sources) and by the real-browser test
 * test/browser/browser.test.ts (from the built dist/).
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Metafile, type Plugin } from 'esbuild';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES_DIR = fileURLToPath(new URL('../..', import.meta.url));

export interface BrowserBundleOptions {
  /** The entry's source (ES module). It may import @dfm/*, @tensorflow/tfjs-core, onnxruntime-web. */
  entry: string;
  /**
   * Where `@dfm/*` comes from: the TypeScript sources (tests need no build) or the built packages
   * (`dist/`, what an app's bundler gets from npm).
   */
  from: 'src' | 'dist';
  /** Write the bundle here (with a source map); default: keep it in memory. */
  outfile?: string;
  minify?: boolean;
}

export interface BrowserBundleResult {
  errors: Message[];
  warnings: Message[];
  /** The bundle (empty when it failed). */
  code: string;
  metafile: Metafile | undefined;
  /** Imports left in the bundle for the browser to resolve (esbuild externals); should be none. */
  externalImports: string[];
  /** Imports of a Node built-in by a bundled module (`file -> kind specifier`); should be none. */
  nodeBuiltinImports: string[];
  /**
   * Node built-ins that a dependency's own `browser` field maps to an empty module (`false`), e.g.
   * tfjs-backend-wasm's `require('fs')` behind its Node check: stubbed out, so nothing is left.
   */
  stubbedBuiltins: string[];
}

/** Resolves `@dfm/<pkg>` and `@dfm/<pkg>/<sub>` to the workspace sources (as vitest.shared.ts does) or to dist/. */
function workspacePackages(from: 'src' | 'dist'): Plugin {
  return {
    name: 'dfm-workspace',
    setup(builder) {
      builder.onResolve({ filter: /^@dfm\/[a-z-]+(\/[a-z-]+)?$/ }, (args) => {
        const [, name, sub] = /^@dfm\/([a-z-]+)(?:\/([a-z-]+))?$/.exec(args.path) as RegExpExecArray;
        const file = from === 'src' ? `src/${sub ?? 'index'}.ts` : `dist/${sub ?? 'index'}.js`;
        return { path: `${PACKAGES_DIR}${name}/${file}` };
      });
    },
  };
}

const BUILTINS = new Set(builtinModules);

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0] as string);
}

/**
 * What in a bundle's metafile still needs Node.js. esbuild records every import, dynamic import and
 * require() of every bundled module (code, not text inside strings), so this sees exactly what a
 * browser would have to resolve.
 */
export function analyseImports(metafile: Metafile): Pick<BrowserBundleResult, 'externalImports' | 'nodeBuiltinImports' | 'stubbedBuiltins'> {
  const externalImports = Object.values(metafile.outputs).flatMap((output) =>
    output.imports.filter((i) => i.external).map((i) => `${i.kind} ${i.path}`),
  );
  const nodeBuiltinImports: string[] = [];
  const stubbedBuiltins = new Set<string>();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    for (const i of input.imports) {
      if (i.path === '<runtime>') continue; // esbuild's own helpers
      const disabled = i.path.startsWith('(disabled):');
      const specifier = i.original ?? i.path.replace(/^\(disabled\):/, '');
      if (!isBuiltin(specifier)) continue;
      if (disabled) stubbedBuiltins.add(`${specifier} (${packageOf(file)})`);
      else nodeBuiltinImports.push(`${file} -> ${i.kind} ${specifier}`);
    }
  }
  return { externalImports, nodeBuiltinImports, stubbedBuiltins: [...stubbedBuiltins].sort() };
}

function packageOf(file: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(file);
  return match?.[1] ?? file;
}

export async function bundleForBrowser(options: BrowserBundleOptions): Promise<BrowserBundleResult> {
  const { entry, from, outfile, minify = false } = options;
  try {
    const result = await build({
      stdin: { contents: entry, resolveDir: PACKAGE_DIR, sourcefile: 'browser-entry.js', loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      minify,
      write: outfile !== undefined,
      outfile: outfile ?? 'browser-bundle.js',
      sourcemap: outfile !== undefined,
      metafile: true,
      logLevel: 'silent',
      plugins: [workspacePackages(from)],
    });
    const code = outfile !== undefined ? await readText(outfile) : (result.outputFiles?.[0]?.text ?? '');
    return {
      errors: result.errors,
      warnings: result.warnings,
      code,
      metafile: result.metafile,
      ...analyseImports(result.metafile as Metafile),
    };
  } catch (error) {
    const failure = error as { errors?: Message[]; warnings?: Message[] };
    if (failure.errors === undefined) throw error;
    return {
      errors: failure.errors,
      warnings: failure.warnings ?? [],
      code: '',
      metafile: undefined,
      externalImports: [],
      nodeBuiltinImports: [],
      stubbedBuiltins: [],
    };
  }
}

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

/** One line per esbuild message: file:line: text. */
export function formatMessages(messages: readonly Message[]): string {
  return messages
    .map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`)
    .join('\n');
}
