// Pilot view: every drone in a table updated in place (rows are reused,
// only changed cells are written), the selected drone's telemetry, and its
// commands (pause, resume, return, land), each confirmed before it is sent.
import { api, ApiError } from './api.js';
import { batteryColour, linkState } from './fleet-layer.js';
import { confirmAction } from './confirm.js';

/// The commands a pilot may give, as POST /api/v1/drones/{id}/commands names them.
const COMMANDS = {
  pause: { label: 'Pause', ask: (id) => `Pause drone ${id}? It holds its position until resumed.` },
  resume: { label: 'Resume', ask: (id) => `Resume drone ${id}'s mission from where it paused?` },
  return_to_launch: { label: 'Return', ask: (id) => `Send drone ${id} back to its dock now? Its unfinished work goes back to the queue.` },
  land: { label: 'Land', ask: (id) => `Land drone ${id} where it is now?` },
};

const FIELDS = [
  ['link', (d) => linkState(d)],
  ['mode', (d) => d.telemetry?.mode ?? ''],
  ['armed', (d) => (d.telemetry ? (d.telemetry.armed ? 'yes' : 'no') : '')],
  ['landed', (d) => d.telemetry?.landed ?? ''],
  ['battery', (d) => fmt(d.telemetry?.battery_pct, 0, '%')],
  ['battery voltage', (d) => fmt(d.telemetry?.battery_v, 2, ' V')],
  ['heading', (d) => fmt(d.telemetry?.heading_deg, 0, '°')],
  ['position', (d) => (d.telemetry ? `${d.telemetry.lat_deg.toFixed(6)}, ${d.telemetry.lon_deg.toFixed(6)}` : '')],
  ['altitude above home', (d) => fmt(d.telemetry?.alt_rel_m, 1, ' m')],
  ['altitude MSL', (d) => fmt(d.telemetry?.alt_msl_m, 1, ' m')],
  ['ground speed', (d) => (d.telemetry ? `${Math.hypot(d.telemetry.vel_north_mps, d.telemetry.vel_east_mps).toFixed(1)} m/s` : '')],
  ['climb', (d) => fmt(d.telemetry == null ? null : -d.telemetry.vel_down_mps, 1, ' m/s')],
  ['mission item', (d) => (d.telemetry?.mission_total ? `${d.telemetry.mission_seq ?? 0}/${d.telemetry.mission_total}` : '')],
  ['taken over by', (d) => (d.taken_over ? d.taken_over.pilot : '')],
  ['task', (d) => d.task_id ?? ''],
  ['sortie tasks', (d) => (d.task_ids ?? []).length ? d.task_ids.map((t) => t.slice(0, 8)).join(', ') : ''],
  ['dock', (d) => d.dock_id],
  ['sensors', (d) => d.sensors.join(', ')],
  ['last telemetry', (d) => fmt(d.seconds_since_telemetry, 1, ' s ago')],
];

function fmt(value, digits, unit) {
  return value == null || Number.isNaN(value) ? '' : `${value.toFixed(digits)}${unit}`;
}

export class PilotView {
  constructor(fleetLayer, map = null) {
    this.fleetLayer = fleetLayer;
    this.map = map;
    this.selected = null;
    this.rows = new Map();
    this.drones = [];
    document.getElementById('drone-filter').addEventListener('input', () => this.filter());
    for (const button of document.querySelectorAll('[data-command]')) {
      button.addEventListener('click', () => this.command(button.dataset.command));
    }
  }

  /// Asks the pilot to confirm, then sends the command to the selected drone.
  async command(name) {
    const id = this.selected;
    const message = document.getElementById('command-message');
    if (!id || !COMMANDS[name]) return;
    if (!(await confirmAction(COMMANDS[name].ask(id), COMMANDS[name].label))) {
      message.className = 'muted';
      message.textContent = `${COMMANDS[name].label} not sent.`;
      return;
    }
    message.className = '';
    message.textContent = `Sending ${COMMANDS[name].label.toLowerCase()} to ${id}...`;
    try {
      const sent = await api.post(`/api/v1/drones/${encodeURIComponent(id)}/commands`, { command: name });
      message.textContent = `${COMMANDS[name].label} sent to ${id} (command ${sent.command_id.slice(0, 8)}); its mode shows the result.`;
      message.dataset.sent = name;
    } catch (error) {
      message.className = 'error';
      message.textContent = error instanceof ApiError ? `${COMMANDS[name].label} refused: ${error.describe()}` : `${COMMANDS[name].label} failed: ${error}`;
    }
  }

  /// Hides the rows that do not match the find box (id, mode or link).
  filter() {
    const needle = document.getElementById('drone-filter').value.trim().toLowerCase();
    for (const row of this.rows.values()) {
      const text = `${row.cells[0].textContent} ${row.cells[1].textContent} ${row.cells[2].textContent}`.toLowerCase();
      row.hidden = needle !== '' && !text.includes(needle);
    }
  }

  setFleet(drones) {
    this.drones = drones;
    document.getElementById('fleet-count').textContent = `${drones.length} drones, ${drones.filter((d) => linkState(d) === 'live').length} live`;
    const body = document.querySelector('#drone-table tbody');
    for (const drone of drones) {
      let row = this.rows.get(drone.id);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.drone = drone.id;
        row.innerHTML = '<td></td><td></td><td></td><td></td><td></td>';
        row.cells[0].textContent = drone.id;
        row.addEventListener('click', () => this.select(drone.id, { reveal: true }));
        body.appendChild(row);
        this.rows.set(drone.id, row);
      }
      const t = drone.telemetry;
      setText(row.cells[1], linkState(drone));
      setText(row.cells[2], t?.mode ?? '');
      setText(row.cells[3], fmt(t?.battery_pct, 0, '%'));
      row.cells[3].style.color = batteryColour(t?.battery_pct);
      setText(row.cells[4], drone.task_id ? drone.task_id.slice(0, 8) : '');
    }
    if (document.getElementById('drone-filter').value) this.filter();
    this._renderDetail();
  }

  /// Selects a drone; `reveal` (a pick from a list) brings it into view,
  /// close enough to follow its route.
  select(id, { reveal = false } = {}) {
    if (id !== this.selected) document.getElementById('command-message').textContent = '';
    const t = this.drones.find((d) => d.id === id)?.telemetry;
    // Out of view, or too far out to see its route: centre on it.
    if (reveal && t && this.map && (this.map.getZoom() < 15 || !this.map.getBounds().contains([t.lat_deg, t.lon_deg]))) {
      this.map.setView([t.lat_deg, t.lon_deg], Math.max(this.map.getZoom(), 16));
    }
    if (this.selected) this.rows.get(this.selected)?.classList.remove('selected');
    this.selected = id;
    this.rows.get(id)?.classList.add('selected');
    this.fleetLayer.select(id);
    this._renderDetail();
  }

  /// The selected drone's place along its planned route, if it flies one.
  showRoute(routes) {
    const node = document.getElementById('drone-route');
    const p = routes.progress().find((f) => f.id === this.selected);
    const text = p ? `Planned route: leg ${p.leg} of ${p.legs} (dashed ahead, solid flown)` : '';
    if (node.textContent !== text) node.textContent = text;
  }

  _renderDetail() {
    const drone = this.drones.find((d) => d.id === this.selected);
    const detail = document.getElementById('drone-detail');
    detail.hidden = !drone;
    if (!drone) return;
    document.getElementById('drone-detail-title').textContent = drone.id;
    const list = document.getElementById('drone-telemetry');
    if (list.children.length !== FIELDS.length * 2) {
      list.innerHTML = FIELDS.map(([name]) => `<dt>${name}</dt><dd></dd>`).join('');
    }
    FIELDS.forEach(([, value], i) => setText(list.children[i * 2 + 1], value(drone)));
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
