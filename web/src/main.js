// The console's entry point: the map with the region, the token, the three
// views (department, pilot, administrator), the live stream that moves the
// fleet, and a slower read of tasks, photos and flight routes.
import 'leaflet/dist/leaflet.css';
import './style.css';
import L from 'leaflet';
import { api, ApiError, savedToken, saveToken } from './api.js';
import { addLegend, addRegion } from './region.js';
import { FleetLayer } from './fleet-layer.js';
import { DepartmentView } from './department.js';
import { PilotView } from './pilot.js';
import { AdminView } from './admin.js';
import { AlertsPanel } from './alerts.js';
import { FlightRoutes } from './routes.js';
import { FleetModel, LiveStream } from './live.js';
import { runBench } from './bench.js';
import { MarkerFleet } from './marker-fleet.js';

/// Tasks, photos and routes change on task events; this read catches up
/// with what events do not carry (new photos) and after a reconnection.
const SLOW_POLL_MS = 2000;
/// The drone table is rewritten at most this often (the map every frame).
const TABLE_MS = 400;

const map = L.map('map', { preferCanvas: true, zoomControl: true, attributionControl: false });
const renderer = L.canvas({ padding: 0.2 });
map.setView([30.5, 114.45], 12);

let view = 'department';
const fleet = new FleetModel();
const pilot = new PilotView(null, map);
let department = null;
let admin = null;
const drawing = () => Boolean(department?.draw.mode && !department.draw.finished) || Boolean(admin?.drawing());
const fleetLayer = new FleetLayer({
  onSelect: (id) => {
    // A click while drawing a shape is a vertex, not a selection.
    if (drawing()) return;
    showView('pilot');
    pilot.select(id);
  },
});
pilot.fleetLayer = fleetLayer;
fleetLayer.addTo(map);
// What draws the fleet: the canvas layer, or the benchmark's peer.
let fleetDisplay = fleetLayer;
const routes = new FlightRoutes(map, renderer);
department = new DepartmentView(map, renderer, fleetLayer);
const alerts = new AlertsPanel({
  onSelectDrone: (id) => {
    showView('pilot');
    pilot.select(id, { reveal: true });
  },
});
let regionParts = null;
admin = new AdminView(map, renderer, () => reloadRegion());
let live = null;
window.skyshare = { map, fleetLayer, department, pilot, admin, alerts, routes, fleet, live: () => live };

function showView(name) {
  view = name;
  for (const v of ['department', 'pilot', 'admin']) document.getElementById(`${v}-view`).hidden = name !== v;
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.view === name);
  if (name === 'pilot') pilot.setFleet(fleet.snapshot());
  if (name === 'admin') admin.refresh();
}
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view));

function status(text, isError = false) {
  const node = document.getElementById('poll-status');
  node.textContent = text;
  node.classList.toggle('error', isError);
}

// Rendering: the map once per animation frame with new positions, the
// drone table at most every TABLE_MS (with a trailing update).
let frameRequested = false;
let tableAt = 0;
let tableTimer = null;
function scheduleRender() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    render();
  });
}
function render() {
  const drones = fleet.snapshot();
  fleetDisplay.setDrones(drones);
  routes.update(fleet.byId);
  if (view !== 'pilot') return;
  const since = performance.now() - tableAt;
  if (since >= TABLE_MS) {
    clearTimeout(tableTimer);
    tableTimer = null;
    tableAt = performance.now();
    pilot.setFleet(drones);
    pilot.showRoute(routes);
  } else if (!tableTimer) {
    tableTimer = setTimeout(() => {
      tableTimer = null;
      tableAt = performance.now();
      pilot.setFleet(fleet.snapshot());
      pilot.showRoute(routes);
    }, TABLE_MS - since);
  }
}
// Link ages keep growing while nothing arrives.
setInterval(scheduleRender, 1000);

let fleetLoading = null;
function reloadFleet() {
  fleetLoading ??= api.get('/api/v1/fleet')
    .then(({ drones }) => {
      fleet.load(drones);
      scheduleRender();
    })
    .finally(() => {
      fleetLoading = null;
    });
  return fleetLoading;
}

async function reloadFlights() {
  const { flights } = await api.get('/api/v1/flights');
  routes.setFlights(flights);
  routes.update(fleet.byId);
}

let taskTimer = null;
/// A task changed: read tasks (and photos) and routes soon, once for a burst.
function taskChanged() {
  clearTimeout(taskTimer);
  taskTimer = setTimeout(() => {
    department.refresh().catch(() => {});
    reloadFlights().catch(() => {});
  }, 200);
}

let received = 0;
function onLive(message) {
  received += 1;
  switch (message.type) {
    case 'drone':
      if (!fleet.apply(message)) reloadFleet().catch(() => {});
      scheduleRender();
      break;
    case 'task':
      taskChanged();
      break;
    case 'alert':
      alerts.update(message.alert);
      break;
    case 'lagged':
      // Some messages were skipped: take the whole picture again.
      reloadFleet().catch(() => {});
      taskChanged();
      break;
    default:
      break;
  }
}

function startLive() {
  live?.stop();
  live = new LiveStream(savedToken(), {
    onMessage: onLive,
    onOpen: () => {
      document.body.dataset.live = 'open';
      status('live');
      // What happened while the stream was down.
      reloadFleet().catch(() => {});
      taskChanged();
      if (alerts.available) alerts.load().catch(() => {});
    },
    onDown: (waitMs, reason) => {
      document.body.dataset.live = 'down';
      status(`live stream ${reason}; reconnecting in ${(waitMs / 1000).toFixed(1)} s`, true);
    },
  });
  live.start();
}

/// Asks for a token until the API accepts one. Escape keeps the current
/// token only when `cancellable` (changing a token that works); otherwise
/// the console has nothing to show without one.
function askToken(message = '', cancellable = false) {
  const dialog = document.getElementById('token-dialog');
  document.getElementById('token-error').textContent = message;
  document.getElementById('token-input').value = '';
  if (!dialog.open) dialog.showModal();
  return new Promise((resolve) => {
    const form = document.getElementById('token-form');
    const onCancel = (event) => {
      if (!cancellable) {
        event.preventDefault();
        return;
      }
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      resolve(savedToken());
    };
    dialog.addEventListener('cancel', onCancel);
    const onSubmit = async (event) => {
      event.preventDefault();
      const token = document.getElementById('token-input').value.trim();
      try {
        await api.get('/api/v1/tasks', token);
      } catch (error) {
        document.getElementById('token-error').textContent = error instanceof ApiError
          ? `Not accepted: ${error.describe()}` : `Cannot reach the dispatcher: ${error}`;
        return;
      }
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      saveToken(token);
      dialog.close();
      resolve(token);
    };
    form.addEventListener('submit', onSubmit);
  });
}

async function ensureToken() {
  const token = savedToken();
  if (token) {
    try {
      await api.get('/api/v1/tasks', token);
      return;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      await askToken(`The saved token was refused: ${error.describe()}`);
      return;
    }
  }
  await askToken();
}

/// Who the caller is (GET /api/v1/me); its role picks the view, and only
/// pilots and administrators get the alert list.
async function signedIn() {
  const me = await api.get('/api/v1/me');
  const role = me.role;
  const department = me.department ? `, ${me.department.name}` : '';
  document.getElementById('who').textContent = `${me.name} (${role}${department})`;
  document.body.dataset.role = role;
  if (role === 'department') alerts.withhold('Alerts are for pilots and administrators.');
  else await alerts.load();
  showView(role);
  startLive();
}

async function slowPoll() {
  for (;;) {
    try {
      if (view === 'department') await department.refresh();
      await reloadFlights();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        await askToken(`The token was refused: ${error.describe()}`);
        await signedIn();
        continue;
      }
      status(`read failed: ${error instanceof ApiError ? error.describe() : error}`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, SLOW_POLL_MS));
  }
}

/// Draws the region again (zones put in force or lifted).
let regionKey = null;
async function reloadRegion() {
  const region = await api.region();
  // Unchanged (same zones, each in the same state): keep what is drawn,
  // outlines included.
  const key = JSON.stringify(region.features);
  if (key === regionKey) return regionParts;
  regionKey = key;
  regionParts?.group.remove();
  regionParts = addRegion(map, region, renderer, drawing);
  department.highlightZonesNamedIn = regionParts.highlightZonesNamedIn;
  return regionParts;
}

async function boot() {
  const parts = await reloadRegion();
  addLegend(map);
  const bounds = parts.boundary.getBounds();
  map.fitBounds(bounds);
  const goto = document.getElementById('goto-dock');
  for (const dock of parts.docks) goto.add(new Option(`${dock.name} (${dock.id})`, dock.id));
  goto.addEventListener('change', () => {
    const dock = parts.docks.find((d) => d.id === goto.value);
    if (dock) map.setView([dock.lat, dock.lon], 17);
    else map.fitBounds(bounds);
  });
  document.body.dataset.region = 'loaded';

  const params = new URLSearchParams(location.search);
  const bench = Number(params.get('bench'));
  if (bench > 0) {
    showView('pilot');
    const markers = params.get('layer') === 'markers';
    status(`BENCHMARK: ${bench} synthetic drones (no dispatcher data)${markers ? ', one Leaflet marker each' : ''}`);
    // layer=markers: the peer, one Leaflet marker per drone, instead of the canvas.
    if (markers) {
      fleetLayer.remove();
      fleetDisplay = new MarkerFleet(map);
    }
    await runBench({
      count: bench,
      seconds: Number(params.get('seconds')) || 10,
      bounds,
      load: (drones) => fleet.load(drones),
      // As the stream delivers them: JSON text, parsed and applied, then
      // one render (the table included).
      apply: (texts) => {
        for (const text of texts) onLive(JSON.parse(text));
        tableAt = 0;
        render();
      },
      report: (r) => {
        document.getElementById('bench-result').textContent = `${r.drones} drones, first update ${r.first_update_ms.toFixed(1)} ms, then ${r.updates} updates at 2 Hz: `
          + `update ${r.update_ms_mean.toFixed(1)} ms mean, ${r.update_ms_p95.toFixed(1)} ms p95, `
          + `${r.update_ms_max.toFixed(1)} ms max; longest frame gap ${r.longest_frame_gap_ms.toFixed(0)} ms`;
      },
    });
    return;
  }

  document.getElementById('change-token').addEventListener('click', async () => {
    await askToken('', true);
    await signedIn();
  });
  await ensureToken();
  await reloadFleet();
  await signedIn();
  // Reloads the map's zones now and then: restrictions come and go.
  setInterval(() => reloadRegion().catch(() => {}), 30000);
  slowPoll();
}

boot().catch((error) => status(`console failed to start: ${error}`, true));
