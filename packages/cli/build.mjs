// Bundles each CLI into one CommonJS file (after `tsc -b`), so that `token-get` starts almost as
// fast as bare node: one file, no ESM loader start-up, no module resolution. libsodium is never
// bundled; it is required only when a command needs it (token-get never does).
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';

const bins = ['token-agent', 'token-gen', 'token-add', 'token-get', 'token-decode', 'token-mytoken'];
rmSync('bundle', { recursive: true, force: true });

// token-get in three files, each loaded only when needed: token-get.cjs is the hot path alone
// (commands/get/fast.ts: the token for a common command line); token-get-main.cjs the command
// (other outputs, bt files, errors, autoload); token-get-full.cjs its commander command line
// (help, unusual spellings), loaded only when the fast parser defers.
const getFullSplit = {
  name: 'token-get-full',
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (args) =>
      args.importer.endsWith('/commands/get/main.js') ? { path: './token-get-full.cjs', external: true } : undefined,
    );
    b.onResolve({ filter: /^\.\.\/commands\/get\/main\.js$/ }, (args) =>
      args.importer.endsWith('/bin/token-get.js') ? { path: './token-get-main.cjs', external: true } : undefined,
    );
  },
};

const common = {
  outdir: 'bundle',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  // @napi-rs/keyring: a native optional dependency, loaded only for --keyring.
  // jose: loaded only by token-decode --verify.
  external: ['libsodium-wrappers-sumo', '@napi-rs/keyring', 'jose'],
  // The sources are ESM and use import.meta.url; in CommonJS that is this file's URL.
  define: { 'import.meta.url': '__bundle_url' },
  banner: { js: "const __bundle_url=require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};
await build({ ...common, entryPoints: Object.fromEntries(bins.filter((b) => b !== 'token-get').map((b) => [b, `dist/bin/${b}.js`])), plugins: [getFullSplit] });
// The hot path uses no import.meta.url: no banner (its pathToFileURL is start-up time).
const { banner: _, ...noBanner } = common;
// import() becomes require() here: an import() in CommonJS starts Node's ESM loader (~4 ms), and
// this file's import()s (node:net for the node:net fallback, token-get-main.cjs) are CommonJS-loadable.
await build({ ...noBanner, entryPoints: { 'token-get': 'dist/bin/token-get.js' }, supported: { 'dynamic-import': false }, plugins: [getFullSplit] });
if (readFileSync('bundle/token-get.cjs', 'utf8').includes('__bundle_url')) throw new Error('bundle/token-get.cjs uses import.meta.url: give it the banner again');
await build({ ...common, entryPoints: { 'token-get-main': 'dist/commands/get/main.js' }, plugins: [getFullSplit] });
await build({ ...common, entryPoints: { 'token-get-full': 'dist/commands/get/program.js' } });
for (const b of bins) chmodSync(`bundle/${b}.cjs`, 0o755);
