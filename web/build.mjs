// Builds the console into OUTDIR (default dist/): index.html, assets/app.js,
// assets/app.css. Leaflet's CSS images are inlined as data URLs, so the
// dispatcher serves three files and the page needs nothing from the internet.
// The output is deterministic: the committed dist/ must equal a fresh build
// (tests/console_bundle.rs checks it).
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, 'dist'));

await mkdir(join(outdir, 'assets'), { recursive: true });
await build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: join(outdir, 'assets'),
  loader: { '.png': 'dataurl', '.svg': 'dataurl' },
  legalComments: 'eof',
  logLevel: 'warning',
});
await copyFile(join(here, 'src/index.html'), join(outdir, 'index.html'));
console.log(`console built into ${outdir}`);
