// The console's entry point: the map with the region, the token, the two
// views, and the 2 Hz poll of the dispatcher's API.
import 'leaflet/dist/leaflet.css';
import './style.css';
import L from 'leaflet';
import { api, ApiError, savedToken, saveToken } from './api.js';
import { addLegend, addRegion } from './region.js';
import { FleetLayer } from './fleet-layer.js';
import { DepartmentView } from './department.js';
import { PilotView } from './pilot.js';
import { runBench } from './bench.js';
import { MarkerFleet } from './marker-fleet.js';

const POLL_MS = 500;

const map = L.map('map', { preferCanvas: true, zoomControl: true, attributionControl: false });
const renderer = L.canvas({ padding: 0.2 });
map.setView([30.5, 114.45], 12);

let view = 'department';
let lastFleet = [];
const pilot = new PilotView(null);
const fleetLayer = new FleetLayer({
  onSelect: (id) => {
    // A click while drawing a task's shape is a vertex, not a selection.
    if (department.draw.mode && !department.draw.finished) return;
    showView('pilot');
    pilot.select(id);
  },
});
pilot.fleetLayer = fleetLayer;
fleetLayer.addTo(map);
const department = new DepartmentView(map, renderer, fleetLayer);
window.skyshare = { map, fleetLayer, department, pilot };

function showView(name) {
  view = name;
  document.getElementById('department-view').hidden = name !== 'department';
  document.getElementById('pilot-view').hidden = name !== 'pilot';
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.view === name);
  if (name === 'pilot') pilot.setFleet(lastFleet);
}
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view));

function status(text, isError = false) {
  const node = document.getElementById('poll-status');
  node.textContent = text;
  node.classList.toggle('error', isError);
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

function showWho() {
  const t = savedToken();
  document.getElementById('who').textContent = `token ${t.slice(0, 8)}…`;
}

async function poll() {
  for (;;) {
    const started = performance.now();
    try {
      const { drones } = await api.get('/api/v1/fleet');
      lastFleet = drones;
      fleetLayer.setDrones(drones);
      if (view === 'pilot') pilot.setFleet(drones);
      else await department.refresh();
      status(`updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        await askToken(`The token was refused: ${error.describe()}`);
        showWho();
        continue;
      }
      status(`poll failed: ${error instanceof ApiError ? error.describe() : error}`, true);
    }
    const spent = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, POLL_MS - spent)));
  }
}

async function boot() {
  const region = await api.region();
  const parts = addRegion(map, region, renderer, () => Boolean(department.draw.mode) && !department.draw.finished);
  addLegend(map);
  department.highlightZonesNamedIn = parts.highlightZonesNamedIn;
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

  const bench = Number(new URLSearchParams(location.search).get('bench'));
  if (bench > 0) {
    showView('pilot');
    status(`BENCHMARK: ${bench} synthetic drones (no dispatcher data)${new URLSearchParams(location.search).get('layer') === 'markers' ? ', one Leaflet marker each' : ''}`);
    const params = new URLSearchParams(location.search);
    const seconds = Number(params.get('seconds')) || 10;
    // layer=markers: the peer, one Leaflet marker per drone, instead of the canvas.
    let layer = fleetLayer;
    if (params.get('layer') === 'markers') {
      fleetLayer.remove();
      layer = new MarkerFleet(map);
    }
    await runBench({
      count: bench,
      seconds,
      bounds,
      apply: (drones) => {
        lastFleet = drones;
        layer.setDrones(drones);
        pilot.setFleet(drones);
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
    showWho();
  });
  await ensureToken();
  showWho();
  poll();
}

boot().catch((error) => status(`console failed to start: ${error}`, true));
