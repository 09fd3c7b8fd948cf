// The console's 1,000-drone benchmark in headless Chromium. The page
// (/?bench=N&seconds=S) moves N synthetic drones at 2 Hz through the same
// drone table as live data and measures each update and the longest gap
// between animation frames. It runs twice in one browser: with the console's
// single-canvas fleet layer, and with the peer, one Leaflet marker per drone
// (&layer=markers), and prints both and their ratio.
//
//   node tests/bench.mjs [N] [SECONDS] [URL]
//
// Without URL it serves web/dist itself, with maps/optics-valley.geojson as
// the region (the page needs only the region's shapes in bench mode).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 10);
let base = process.argv[4];
let server = null;
if (!base) {
  const files = {
    '/': ['../dist/index.html', 'text/html'],
    '/assets/app.js': ['../dist/assets/app.js', 'text/javascript'],
    '/assets/app.css': ['../dist/assets/app.css', 'text/css'],
    '/api/v1/region': ['../../maps/optics-valley.geojson', 'application/json'],
  };
  server = createServer(async (req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1] }).end(await readFile(join(here, file[0])));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
}

const { page, errors, close } = await launch();
async function run(layer) {
  await page.goto(`${base}/?bench=${count}&seconds=${seconds}${layer ? `&layer=${layer}` : ''}`);
  await page.waitForFunction(() => window.skyshareBench, null, { timeout: (seconds + 60) * 1000 });
  const result = await page.evaluate(() => window.skyshareBench);
  if (errors.length) throw new Error(`page errors: ${errors.join(' | ')}`);
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `bench-${layer ?? 'canvas'}.png`) });
  return result;
}
const line = (name, r) => console.log(`  ${name}: first update ${r.first_update_ms.toFixed(1)} ms; `
  + `steady update mean ${r.update_ms_mean.toFixed(2)} ms, p95 ${r.update_ms_p95.toFixed(2)} ms, max ${r.update_ms_max.toFixed(2)} ms; `
  + `longest frame gap ${r.longest_frame_gap_ms.toFixed(0)} ms`);
try {
  const canvas = await run(null);
  const markers = await run('markers');
  console.log(`console bench: ${count} drones moving, ${canvas.updates} steady updates at 2 Hz (budget 500 ms each), headless Chromium`);
  line('console (one canvas)', canvas);
  line('peer (a Leaflet marker per drone)', markers);
  console.log(`  ratio peer/console: steady update ${(markers.update_ms_mean / canvas.update_ms_mean).toFixed(1)}x, `
    + `longest frame gap ${(markers.longest_frame_gap_ms / canvas.longest_frame_gap_ms).toFixed(1)}x`);
} finally {
  await close();
  server?.close();
}
