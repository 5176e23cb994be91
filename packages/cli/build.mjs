// Bundles each CLI into one CommonJS file (after `tsc -b`), so that `token-get` starts almost as
// fast as bare node: one file, no ESM loader start-up, no module resolution. libsodium is never
// bundled; it is required only when a command needs it (token-get never does).
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';

const bins = ['token-agent', 'token-gen', 'token-add', 'token-get', 'token-decode'];
rmSync('bundle', { recursive: true, force: true });

// token-get's fast path must not even parse commander: its full command line (help, errors)
// lives in a second file, loaded only when the fast parser defers.
const getFullSplit = {
  name: 'token-get-full',
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (args) =>
      args.importer.endsWith('/commands/get/main.js') ? { path: './token-get-full.cjs', external: true } : undefined,
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
await build({ ...common, entryPoints: Object.fromEntries(bins.map((b) => [b, `dist/bin/${b}.js`])), plugins: [getFullSplit] });
await build({ ...common, entryPoints: { 'token-get-full': 'dist/commands/get/program.js' } });
for (const b of bins) chmodSync(`bundle/${b}.cjs`, 0o755);
