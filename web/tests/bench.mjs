// The console's 1,000-drone benchmark in headless Chromium: opens
// /?bench=N&seconds=S, where the page moves N synthetic drones at 2 Hz
// through the same map layer and drone table as live data, and prints the
// figures the page measured (time per update, longest gap between frames).
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
try {
  await page.goto(`${base}/?bench=${count}&seconds=${seconds}`);
  await page.waitForFunction(() => window.skyshareBench, null, { timeout: (seconds + 30) * 1000 });
  const result = await page.evaluate(() => window.skyshareBench);
  if (errors.length) throw new Error(`page errors: ${errors.join(' | ')}`);
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'bench.png') });
  console.log(`console bench: ${result.drones} drones, ${result.updates} updates at 2 Hz in headless Chromium`);
  console.log(`  update (map canvas + drone table): mean ${result.update_ms_mean.toFixed(2)} ms, p95 ${result.update_ms_p95.toFixed(2)} ms, max ${result.update_ms_max.toFixed(2)} ms (budget 500 ms per update)`);
  console.log(`  longest gap between animation frames: ${result.longest_frame_gap_ms.toFixed(0)} ms`);
} finally {
  await close();
  server?.close();
}
