// A pilot in the console, end to end against a running dispatcher: enter
// the pilot's token, see the fleet move over the live WebSocket, follow a
// department's flight along its planned route, select the drone, pause it
// (a cancelled confirmation sends nothing; a confirmed one holds the drone)
// and resume it; an alert raised for it (a restriction put over it) is
// acknowledged; the live stream is dropped and comes back by itself.
// Screenshots go to
// SCREENSHOT_DIR.
//
// env: SKYSHARE_URL, SKYSHARE_TOKEN (the pilot's), SKYSHARE_DEPARTMENT_TOKEN
// (to submit the flight), SKYSHARE_ADMIN_TOKEN (to put a restriction over
// it), SCREENSHOT_DIR, CHROMIUM. Prints one JSON line.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const url = process.env.SKYSHARE_URL;
const token = process.env.SKYSHARE_TOKEN;
const departmentToken = process.env.SKYSHARE_DEPARTMENT_TOKEN;
const adminToken = process.env.SKYSHARE_ADMIN_TOKEN;
const shots = process.env.SCREENSHOT_DIR ?? 'console-screenshots';
if (!url || !token || !departmentToken || !adminToken) {
  console.error('pilot.mjs: set SKYSHARE_URL, SKYSHARE_TOKEN, SKYSHARE_DEPARTMENT_TOKEN and SKYSHARE_ADMIN_TOKEN');
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

/// The selected drone's telemetry field `name` as the panel shows it.
const field = (name) => page.evaluate((n) => {
  const dts = [...document.querySelectorAll('#drone-telemetry dt')];
  const i = dts.findIndex((dt) => dt.textContent === n);
  return i >= 0 ? dts[i].nextElementSibling.textContent : null;
}, name);

/// Clicks a command button and answers its confirmation.
async function command(name, answer) {
  await page.click(`[data-command="${name}"]`);
  await page.waitForSelector('#confirm-dialog[open]');
  const question = await page.textContent('#confirm-text');
  await page.click(answer ? '#confirm-yes' : '#confirm-no');
  await page.waitForSelector('#confirm-dialog:not([open])', { state: 'attached' });
  return question;
}

try {
  await page.goto(url);
  await page.waitForSelector('#token-dialog[open]');
  await page.fill('#token-input', token);
  await page.click('#token-submit');
  await until('the live stream', () => document.body.dataset.live === 'open' && document.body.dataset.role);
  const role = await page.evaluate(() => document.body.dataset.role);
  // The role comes from GET /api/v1/me, shown beside the user's name.
  const who = await page.evaluate(() => document.getElementById('who').textContent);
  if (role !== 'pilot' || !who.endsWith('(pilot)')) await fail(`signed in as ${role} ("${who}"), expected a pilot`);

  // A department's area survey (200 m x 150 m) north of the square's
  // dock, submitted through the API: the flight the pilot will handle.
  const area = {
    kind: 'area_survey',
    geometry: { type: 'Polygon', coordinates: [[[114.3975, 30.5055], [114.3996, 30.5055], [114.3996, 30.50685], [114.3975, 30.50685], [114.3975, 30.5055]]] },
    alt_m: 40,
    sensor: 'visible',
    priority: 'routine',
  };
  const submitted = await page.evaluate(async ([body, t]) => {
    const r = await fetch('/api/v1/tasks', {
      method: 'POST', headers: { Authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  }, [area, departmentToken]);
  if (submitted.status !== 201) await fail(`the survey was not accepted: ${JSON.stringify(submitted)}`);
  const taskId = submitted.body.id;

  // Its drone takes off on a route the map draws; positions come over the
  // WebSocket (no fleet poll runs).
  const drone = await until('the flight on its route, in the air on its mission', (task) => {
    const s = window.skyshare;
    const flying = s.fleet.list.find((d) => d.task_ids.includes(task)
      && d.telemetry?.landed === 'in_air' && d.telemetry?.mode === 'mission');
    return flying && s.routes.progress().some((p) => p.id === flying.id) ? flying.id : null;
  }, taskId, 60000);
  await page.click('#tab-pilot');
  await page.click(`#drone-table tr[data-drone="${drone}"]`);
  await until('the selected drone', (id) => document.getElementById('drone-detail-title').textContent === id, drone);
  const onRoute = await until('the progress along the route', () => document.getElementById('drone-route').textContent);
  await shot('p1-flight-selected.png');

  // Cancelling the confirmation sends nothing.
  const pauseQuestion = await command('pause', false);
  if (!pauseQuestion.includes(drone)) await fail(`the pause confirmation does not name the drone: ${pauseQuestion}`);
  const notSent = await page.textContent('#command-message');
  if (!notSent.includes('not sent')) await fail(`a cancelled pause says: ${notSent}`);
  if ((await field('mode')) !== 'mission') await fail('a cancelled pause changed the mode');

  // Confirmed: the drone holds where it is.
  await command('pause', true);
  await until('the pause sent', () => document.getElementById('command-message').textContent.startsWith('Pause sent'));
  await until('the drone holding', async () => {
    const dts = [...document.querySelectorAll('#drone-telemetry dt')];
    const mode = dts.find((dt) => dt.textContent === 'mode')?.nextElementSibling.textContent;
    return mode === 'hold';
  }, null, 20000);
  const heldAt = await field('position');
  await page.waitForTimeout(1500);
  const speedHeld = parseFloat(await field('ground speed'));
  await shot('p2-paused.png');

  // Resumed: back on its mission.
  const resumeQuestion = await command('resume', true);
  await until('the resume sent', () => document.getElementById('command-message').textContent.startsWith('Resume sent'));
  await until('the drone back on its mission', () => {
    const dts = [...document.querySelectorAll('#drone-telemetry dt')];
    return dts.find((dt) => dt.textContent === 'mode')?.nextElementSibling.textContent === 'mission';
  }, null, 20000);
  await shot('p3-resumed.png');

  // The live stream, dropped, comes back on its own and moves the fleet again.
  const before = await page.evaluate(() => window.skyshare.live().connects);
  await page.evaluate(() => window.skyshare.live().drop());
  await until('the stream seen down', () => document.body.dataset.live === 'down', null, 5000);
  await until('the stream back', (n) => document.body.dataset.live === 'open' && window.skyshare.live().connects > n, before, 15000);
  const ts = await page.evaluate((id) => window.skyshare.fleet.byId.get(id).telemetry.ts_ms, drone);
  await until('positions after the reconnection', ([id, t]) => window.skyshare.fleet.byId.get(id).telemetry.ts_ms > t, [drone, ts], 10000);

  // An administrator puts a prohibited restriction over where the drone
  // is flying (through the API): the dispatcher raises an in_zone alert,
  // which reaches the list over the stream; the pilot acknowledges it.
  let acknowledged = null;
  const alertsShown = await page.evaluate(() => window.skyshare.alerts.available);
  if (alertsShown) {
    const here = await page.evaluate((id) => window.skyshare.fleet.byId.get(id).telemetry, drone);
    const d = 0.003;
    const ring = [[-d, -d], [d, -d], [d, d], [-d, d], [-d, -d]].map(([x, y]) => [here.lon_deg + x, here.lat_deg + y]);
    const restriction = {
      type: 'FeatureCollection',
      features: [{
        type: 'Feature',
        properties: { id: 'TR-PILOT-TEST', name: 'test restriction', kind: 'prohibited', reason: 'browser test', end: new Date(Date.now() + 3600e3).toISOString() },
        geometry: { type: 'Polygon', coordinates: [ring] },
      }],
    };
    const put = await page.evaluate(async ([body, t]) => {
      const r = await fetch('/api/v1/restrictions', {
        method: 'POST', headers: { Authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    }, [restriction, adminToken]);
    if (put.status !== 201) await fail(`the restriction was refused: ${JSON.stringify(put)}`);
    const open = await until('an alert for the drone', (id) => [...document.querySelectorAll('#alert-list li.open')]
      .find((li) => li.querySelector('.alert-drone').textContent === id)?.dataset.alert, drone, 20000);
    await shot('p4-alert.png');
    await page.click(`#alert-list li[data-alert="${open}"] button.acknowledge`);
    await until('the alert acknowledged', (id) => {
      const li = document.querySelector(`#alert-list li[data-alert="${id}"]`);
      return !li || li.classList.contains('acknowledged');
    }, open);
    await shot('p5-alert-acknowledged.png');
    acknowledged = open;
  }
  if (errors.length) await fail('the page raised errors');
  console.log(JSON.stringify({
    role, task_id: taskId, drone, on_route: onRoute, pause_question: pauseQuestion, resume_question: resumeQuestion,
    held_at: heldAt, speed_held_mps: speedHeld, alerts_shown: alertsShown, acknowledged,
  }));
} finally {
  await close();
}
