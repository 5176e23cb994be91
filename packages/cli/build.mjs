// Bundles each CLI into one CommonJS file (after `tsc -b`), so that `token-get` starts almost as
// fast as bare node: one file, no ESM loader start-up, no module resolution. libsodium is never
// bundled; it is required only when a command needs it (token-get never does).
import { build } from 'esbuild';
import { chmodSync, rmSync } from 'node:fs';

const bins = ['token-agent', 'token-gen', 'token-add', 'token-get'];
rmSync('bundle', { recursive: true, force: true });
await build({
  entryPoints: Object.fromEntries(bins.map((b) => [b, `dist/bin/${b}.js`])),
  outdir: 'bundle',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  external: ['libsodium-wrappers-sumo'],
  // The sources are ESM and use import.meta.url; in CommonJS that is this file's URL.
  define: { 'import.meta.url': '__bundle_url' },
  banner: { js: "const __bundle_url=require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
for (const b of bins) chmodSync(`bundle/${b}.cjs`, 0o755);
