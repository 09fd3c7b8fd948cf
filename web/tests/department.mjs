// A department in the console, end to end against a running dispatcher:
// enter the token, draw an area on the map, submit it, watch the task be
// assigned and flown, and see its photos appear on the map; then the pilot
// view shows a drone's telemetry. Screenshots go to SCREENSHOT_DIR.
//
// env: SKYSHARE_URL (http://127.0.0.1:PORT), SKYSHARE_TOKEN, SCREENSHOT_DIR,
// CHROMIUM (default /usr/bin/chromium). Prints one JSON line with what it saw.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const url = process.env.SKYSHARE_URL;
const token = process.env.SKYSHARE_TOKEN;
const shots = process.env.SCREENSHOT_DIR ?? 'console-screenshots';
if (!url || !token) {
  console.error('department.mjs: set SKYSHARE_URL and SKYSHARE_TOKEN');
  process.exit(2);
}
await mkdir(shots, { recursive: true });

const { page, errors, close } = await launch();
const shot = (name) => page.screenshot({ path: join(shots, name) });
const fail = async (message) => {
  await shot('failure.png').catch(() => {});
  throw new Error(`${message}${errors.length ? `; page errors: ${errors.join(' | ')}` : ''}`);
};

/// Polls `probe` in the page until it returns a truthy value.
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
  // A wrong token is refused with the API's own explanation.
  await page.fill('#token-input', 'sky_not_a_token');
  await page.click('#token-submit');
  await until('the refusal of a wrong token', () => document.getElementById('token-error').textContent.includes('unknown API token'));
  await shot('01-token-refused.png');
  await page.fill('#token-input', token);
  await page.click('#token-submit');
  await page.waitForSelector('#token-dialog', { state: 'hidden' });
  await until('the region', () => document.body.dataset.region === 'loaded');
  await until('the live stream', () => document.body.dataset.live === 'open');
  await shot('02-region.png');

  // A 90 m x 60 m block 100 m north-east of the Software Square dock.
  await page.selectOption('#goto-dock', 'dock-square');
  const dock = { lon: 114.399, lat: 30.504 };
  const mLat = 1 / 111320;
  const mLon = 1 / (111320 * Math.cos((dock.lat * Math.PI) / 180));
  const corner = { lon: dock.lon + 70 * mLon, lat: dock.lat + 70 * mLat };
  const ring = [[0, 0], [90, 0], [90, 60], [0, 60]].map(([e, n]) => [corner.lat + n * mLat, corner.lon + e * mLon]);
  const box = await page.locator('#map').boundingBox();
  await page.click('[data-draw="polygon"]');
  for (const latlng of ring) {
    const p = await page.evaluate((ll) => window.skyshare.map.latLngToContainerPoint(ll), latlng);
    await page.mouse.click(box.x + p.x, box.y + p.y);
  }
  await page.click('#draw-finish');
  await page.fill('#task-alt', '40');
  await page.selectOption('#task-sensor', 'visible');
  await shot('03-area-drawn.png');
  await page.click('#task-submit');
  await until('the submission', () => document.getElementById('submit-message').textContent.includes('submitted'));
  const taskId = await page.getAttribute('#task-table tr.selected', 'data-task');
  if (!taskId) await fail('the submitted task is not selected in the list');

  const stateOf = (id) => document.querySelector(`#task-table tr[data-task="${id}"] .state`)?.textContent;
  const states = [];
  const watch = async (want, limitMs) => until(`task state ${want}`, ([id, wanted]) => {
    const s = document.querySelector(`#task-table tr[data-task="${id}"] .state`)?.textContent;
    return wanted.includes(s) ? s : null;
  }, [taskId, want], limitMs);
  states.push(await watch(['assigned', 'in_flight'], 20000));
  await shot('04-assigned.png');
  if (states[0] !== 'in_flight') states.push(await watch(['in_flight'], 20000));
  await shot('05-in-flight.png');
  const photos = Number(await until('photos on the map', () => {
    const n = Number(document.getElementById('image-count').textContent);
    return n > 0 && window.skyshare.department.imageLayer.getLayers().length === n ? n : 0;
  }, null, 30000));
  await shot('06-imagery.png');
  states.push(await watch(['completed'], 40000));
  // The last photos' events may land just after the task's last item:
  // the count is final once it has not changed for 3 s (photos are read
  // every 2 s), every one of them on the map.
  let finalPhotos = 0;
  for (let same = 0; same < 30;) {
    const n = await until('every photo on the map', () => {
      const count = Number(document.getElementById('image-count').textContent);
      return window.skyshare.department.imageLayer.getLayers().length === count ? count : 0;
    });
    same = n === finalPhotos ? same + 1 : 0;
    finalPhotos = n;
    await page.waitForTimeout(100);
  }
  await shot('07-completed.png');
  // The time filter: at its left end only the first photo(s) show, at its
  // right end all of them again.
  const setTime = (end) => page.evaluate((atEnd) => {
    const slider = document.getElementById('image-time');
    slider.value = atEnd === 'max' ? slider.max : slider.min;
    slider.dispatchEvent(new Event('input'));
    return window.skyshare.department.imageLayer.getLayers().length;
  }, end);
  const earliest = await setTime('min');
  if (!(earliest >= 1 && earliest < finalPhotos)) {
    const times = await page.evaluate(() => window.skyshare.department.images.map((i) => i.captured_at_ms));
    await fail(`the time filter at its start shows ${earliest} of ${finalPhotos} photos (taken at ${times.join(', ')})`);
  }
  await shot('07b-photos-filtered-by-time.png');
  const all = await setTime('max');
  if (all !== finalPhotos) await fail(`the time filter at its end shows ${all} of ${finalPhotos} photos`);
  if ((await page.evaluate(stateOf, taskId)) !== 'completed') await fail('task left completed');

  const clickAt = async (latlng) => {
    const p = await page.evaluate((ll) => window.skyshare.map.latLngToContainerPoint(ll), latlng);
    await page.mouse.click(box.x + p.x, box.y + p.y);
  };

  // Before submitting: a point south-east of the hospital, itself in no
  // zone, whose route from the square's dock crosses the hospital's zone.
  // The airspace check answers on its own once the point is down: a
  // conflict, the leg drawn, the zone named and outlined.
  await page.evaluate(() => window.skyshare.map.setView([30.501, 114.405], 16, { animate: false }));
  await page.click('[data-draw="point"]');
  await clickAt([30.4985, 114.4115]);
  const check = await until('the airspace check\'s answer', () => {
    const node = document.getElementById('check-result');
    if (!node.dataset.ok) return null;
    return {
      ok: node.dataset.ok,
      text: node.textContent,
      conflicts: [...document.querySelectorAll('#check-conflicts li')].map((li) => ({ zone: li.dataset.zone, leg: Number(li.dataset.leg) })),
      outlined: document.getElementById('zone-highlight').textContent,
      drawn: window.skyshare.department.checkLayer.getLayers().length,
    };
  });
  if (check.ok !== 'false' || !check.conflicts.some((c) => c.zone === 'Z-HOSP')) await fail(`the check did not show the conflict with Z-HOSP: ${JSON.stringify(check)}`);
  if (!check.outlined.includes('Z-HOSP')) await fail(`the conflicting zone is not outlined: ${check.outlined}`);
  // The planned route and at least one offending leg.
  if (check.drawn < 2) await fail(`the check drew ${check.drawn} lines`);
  await shot('08a-check-conflict.png');
  await page.click('#draw-clear');
  const cleared = await page.textContent('#check-result');
  if (cleared !== '') await fail(`clearing the shape left the check's answer: ${cleared}`);

  // A point inside the hospital's prohibited zone is refused, and the page
  // shows the dispatcher's reason naming the zone.
  await page.evaluate(() => window.skyshare.map.setView([30.5015, 114.408], 17, { animate: false }));
  await page.click('[data-draw="point"]');
  await clickAt([30.5015, 114.408]);
  await page.click('#task-submit');
  const refusal = await until('the refusal of a point in Z-HOSP', () => {
    const m = document.getElementById('submit-message');
    return m.classList.contains('error') ? m.textContent : null;
  });
  if (!refusal.includes('Z-HOSP')) await fail(`the refusal does not name the zone: ${refusal}`);
  const outlined = await until('the refused zone outlined', () => document.getElementById('zone-highlight').textContent);
  if (!outlined.includes('Z-HOSP')) await fail(`the outlined zones are ${outlined}`);
  await shot('08-refused-in-zone.png');

  // A corridor: a line east of the dock with a width. (The dock is still
  // the selected option after the pan: choose the region first so the
  // change event fires.)
  await page.selectOption('#goto-dock', '');
  await page.selectOption('#goto-dock', 'dock-square');
  await page.click('[data-draw="line"]');
  await clickAt([dock.lat - 60 * mLat, dock.lon + 20 * mLon]);
  await clickAt([dock.lat - 60 * mLat, dock.lon + 160 * mLon]);
  await page.click('#draw-finish');
  await page.fill('#task-width', '25');
  await page.click('#task-submit');
  await until('the corridor submission', () => document.getElementById('submit-message').textContent.includes('submitted'));
  const corridorId = await page.getAttribute('#task-table tr.selected', 'data-task');
  const corridorKind = await page.textContent(`#task-table tr[data-task="${corridorId}"] td:nth-child(2)`);
  if (corridorKind !== 'corridor_survey') await fail(`the corridor was listed as ${corridorKind}`);
  const leftover = await page.textContent('#image-window');
  if (leftover !== '') await fail(`the corridor shows the area's photo figures: ${leftover}`);
  await shot('09-corridor.png');

  // Clicking a drone on the map (a parked one, so it stays put) opens the
  // pilot view with that drone selected.
  const target = await until('a parked drone', () => {
    const d = window.skyshare.fleetLayer._drones.find((x) => x.telemetry?.landed === 'on_ground');
    if (!d) return null;
    window.skyshare.map.setView([d.telemetry.lat_deg, d.telemetry.lon_deg], 17, { animate: false });
    return d.id;
  });
  const at = await page.evaluate((id) => {
    const d = window.skyshare.fleetLayer._drones.find((x) => x.id === id);
    return window.skyshare.map.latLngToContainerPoint([d.telemetry.lat_deg, d.telemetry.lon_deg]);
  }, target);
  await page.mouse.click(box.x + at.x, box.y + at.y);
  await until('the drone picked on the map', (id) => !document.getElementById('pilot-view').hidden
    && document.getElementById('drone-detail-title').textContent === id, target);
  await until('the drone list', () => document.querySelectorAll('#drone-table tbody tr').length > 0);
  await page.click('#drone-table tbody tr:first-child');
  const battery = await until('the selected drone\'s battery', () => {
    const dts = [...document.querySelectorAll('#drone-telemetry dt')];
    const i = dts.findIndex((dt) => dt.textContent === 'battery');
    const text = i >= 0 ? dts[i].nextElementSibling.textContent : '';
    return text.endsWith('%') ? text : null;
  });
  await shot('10-pilot.png');
  // The find box narrows the list to the matching drones.
  await page.fill('#drone-filter', target);
  const shown = await page.evaluate(() => [...document.querySelectorAll('#drone-table tbody tr')].filter((r) => !r.hidden).map((r) => r.dataset.drone));
  if (shown.length !== 1 || shown[0] !== target) await fail(`find ${target} shows ${shown.join(', ')}`);
  if (errors.length) await fail('the page raised errors');
  console.log(JSON.stringify({ task_id: taskId, corridor_id: corridorId, check, refusal, outlined, states, photos_first_seen: photos, photos: finalPhotos, photos_at_earliest_time: earliest, pilot_battery: battery, picked_on_map: target }));
} finally {
  await close();
}
