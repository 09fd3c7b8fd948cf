// An administrator in the console, end to end against `skyshare demo`:
// sets a department's quota, puts a drone in maintenance, reads the docks,
// imports a zone file (and sees a bad one refused whole),
// draws a temporary restriction with a start and an end, sees it on the
// map, and lifts it again through a confirmation.
// Screenshots go to SCREENSHOT_DIR.
//
// env: SKYSHARE_URL, SKYSHARE_TOKEN (the administrator's), SCREENSHOT_DIR,
// CHROMIUM. Prints one JSON line with what it saw.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const url = process.env.SKYSHARE_URL;
const token = process.env.SKYSHARE_TOKEN;
const shots = process.env.SCREENSHOT_DIR ?? 'console-screenshots';
if (!url || !token) {
  console.error('admin.mjs: set SKYSHARE_URL and SKYSHARE_TOKEN');
  process.exit(2);
}
await mkdir(shots, { recursive: true });

const { page, errors, close } = await launch();
const shot = (name) => page.screenshot({ path: join(shots, name) });
const fail = async (message) => {
  await shot('failure.png').catch(() => {});
  throw new Error(`${message}${errors.length ? `; page errors: ${errors.join(' | ')}` : ''}`);
};

async function until(what, probe, arg, limitMs = 30000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await page.evaluate(probe, arg);
    if (value) return value;
    if (Date.now() > deadline) await fail(`timed out waiting for ${what}`);
    await page.waitForTimeout(100);
  }
}

try {
  await page.goto(url);
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', token);
  await page.click('#token-submit');
  await until('the administrator\'s view', () => document.body.dataset.role === 'admin' && !document.getElementById('admin-view').hidden);

  // A quota of 3 unfinished tasks for environment.
  await until('the departments', () => document.querySelector('#department-table tr[data-department="environment"]'));
  await page.fill('#department-table tr[data-department="environment"] input', '3');
  await page.click('#department-table tr[data-department="environment"] button');
  const quota = await until('the quota saved', () => {
    const text = document.getElementById('department-message').textContent;
    return text.startsWith('Department environment') ? text : null;
  });

  // The first drone goes to maintenance, with the reason; the docks are listed.
  const serviced = await until('the drones', () => document.querySelector('#service-table tr[data-drone]')?.dataset.drone);
  await page.selectOption(`#service-table tr[data-drone="${serviced}"] select`, 'maintenance');
  await page.fill(`#service-table tr[data-drone="${serviced}"] input.reason`, 'propeller check');
  await page.click(`#service-table tr[data-drone="${serviced}"] button`);
  const service = await until('the service state set', () => {
    const text = document.getElementById('service-message').textContent;
    return text.includes('maintenance') ? text : null;
  });
  const docks = await until('the docks', () => [...document.querySelectorAll('#dock-table tr[data-dock]')].map((r) => r.dataset.dock).join(',') || null);
  await shot('a0-quota-and-service.png');

  // A zone file imported (GeoJSON, chosen in the file picker): listed and
  // on the map. A file with a bad zone is refused whole, its problem named.
  const zoneFile = {
    type: 'FeatureCollection',
    features: [{
      type: 'Feature',
      properties: { id: 'Z-IMPORTED', name: 'imported in the browser', kind: 'prohibited', reason: 'browser test' },
      geometry: { type: 'Polygon', coordinates: [[[114.46, 30.47], [114.465, 30.47], [114.465, 30.474], [114.46, 30.474], [114.46, 30.47]]] },
    }],
  };
  await page.setInputFiles('#zone-file', { name: 'zones.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(JSON.stringify(zoneFile)) });
  await page.click('#zone-import-submit');
  const imported = await until('the zone file imported', () => {
    const text = document.getElementById('zone-import-message').textContent;
    return text.startsWith('Imported from zones.geojson') ? text : null;
  });
  await until('the imported zone listed', () => document.querySelector('#zone-table tr[data-zone="Z-IMPORTED"]'));
  await until('the imported zone on the map', () => window.skyshare.department.highlightZonesNamedIn('Z-IMPORTED').length === 1);
  const badFile = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id: 'Z-BAD', kind: 'nonsense' }, geometry: zoneFile.features[0].geometry }] };
  await page.setInputFiles('#zone-file', { name: 'bad.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(JSON.stringify(badFile)) });
  await page.click('#zone-import-submit');
  const refusedFile = await until('the bad file refused', () => {
    const text = document.getElementById('zone-import-message').textContent;
    return text.startsWith('bad.geojson refused') ? text : null;
  });
  await shot('a0b-zones-imported.png');

  // A restriction drawn east of the stadium, in force from now for two hours.
  await page.evaluate(() => window.skyshare.map.setView([30.49, 114.45], 15, { animate: false }));
  const box = await page.locator('#map').boundingBox();
  const clickAt = async (latlng) => {
    const p = await page.evaluate((ll) => window.skyshare.map.latLngToContainerPoint(ll), latlng);
    await page.mouse.click(box.x + p.x, box.y + p.y);
  };
  await page.click('#restriction-draw');
  for (const ll of [[30.488, 114.446], [30.488, 114.452], [30.492, 114.452], [30.492, 114.446]]) await clickAt(ll);
  await page.click('#restriction-finish');
  await page.fill('#restriction-id', 'TR-BROWSER');
  await page.fill('#restriction-name', 'drawn in the browser');
  const start = await page.inputValue('#restriction-start');
  const end = await page.inputValue('#restriction-end');
  await page.click('#restriction-submit');
  const created = await until('the restriction in force', () => {
    const m = document.getElementById('restriction-message');
    return m.textContent.startsWith('Restriction TR-BROWSER in force') ? m.textContent : null;
  });
  await until('the restriction listed', () => document.querySelector('#restriction-table tr[data-restriction="TR-BROWSER"]'));
  // The map shows it among the zones (the region is read again).
  await until('the restriction on the map', () => window.skyshare.department.highlightZonesNamedIn('TR-BROWSER').length === 1);
  await shot('a1-restriction.png');
  const stored = await page.evaluate(async (t) => {
    const r = await fetch('/api/v1/restrictions', { headers: { Authorization: `Bearer ${t}` } });
    return (await r.json()).features.find((f) => f.properties.id === 'TR-BROWSER')?.properties ?? null;
  }, token);

  // Lifted through its confirmation.
  await page.click('#restriction-table tr[data-restriction="TR-BROWSER"] button');
  await page.waitForSelector('#confirm-dialog[open]');
  await page.click('#confirm-yes');
  await until('the restriction lifted', () => !document.querySelector('#restriction-table tr[data-restriction="TR-BROWSER"]')
    && document.getElementById('restriction-message').textContent === 'Restriction TR-BROWSER lifted.');
  await until('the restriction gone from the map', () => window.skyshare.department.highlightZonesNamedIn('').length === 0
    && window.skyshare.department.highlightZonesNamedIn('TR-BROWSER').length === 0);
  await shot('a2-lifted.png');
  if (errors.length) await fail('the page raised errors');
  console.log(JSON.stringify({ quota, imported, refused_file: refusedFile, serviced, service, docks: docks.split(','), created, start_local: start, end_local: end, stored }));
} finally {
  await close();
}
