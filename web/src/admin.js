// Administrator view: temporary restrictions (drawn on the map with a start
// and an end, put in force with POST /api/v1/restrictions, lifted with
// DELETE), departments and their quotas (PUT /api/v1/departments/{id}),
// drones' service states and the docks (`fleet-admin.js`), zone files
// imported (`zones-admin.js`).
// Each section reports what the dispatcher answered; a section whose
// endpoint refuses this caller says so instead of failing the page.
import { api, ApiError } from './api.js';
import { DrawTool } from './draw.js';
import { confirmAction } from './confirm.js';
import { escapeHtml } from './region.js';
import { FleetAdmin } from './fleet-admin.js';
import { ZonesAdmin } from './zones-admin.js';

function describe(error) {
  return error instanceof ApiError ? error.describe() : String(error);
}

/// `datetime-local` value (local time, no zone) to RFC 3339 UTC.
function toRfc3339(local) {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/// A Date as a `datetime-local` value in the browser's time zone.
function toLocalInput(at) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

export class AdminView {
  /// `onZonesChanged`: reload the map's zones (a restriction was put in
  /// force or lifted).
  constructor(map, renderer, onZonesChanged) {
    this.map = map;
    this.onZonesChanged = onZonesChanged;
    this.zones = new ZonesAdmin(onZonesChanged);
    this.fleet = new FleetAdmin({ onSelectDock: (dock) => map.setView([dock.lat, dock.lon], 17) });
    this.draw = new DrawTool(map, renderer, () => this._drawChanged());
    document.getElementById('restriction-draw').addEventListener('click', () => this.draw.start('polygon'));
    document.getElementById('restriction-finish').addEventListener('click', () => this.draw.finish());
    document.getElementById('restriction-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this._createRestriction();
    });
    document.getElementById('department-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const form = e.target;
      this._putDepartment(form.elements.id.value.trim(), form.elements.name.value.trim(), form.elements.quota.value);
    });
    const now = new Date();
    document.getElementById('restriction-start').value = toLocalInput(now);
    document.getElementById('restriction-end').value = toLocalInput(new Date(now.getTime() + 2 * 3600 * 1000));
  }

  /// True while the restriction's area is being drawn: map clicks are its
  /// vertices.
  drawing() {
    return Boolean(this.draw.mode) && !this.draw.finished;
  }

  async refresh() {
    await Promise.all([this._loadRestrictions(), this._loadDepartments(), this.fleet.refresh(), this.zones.refresh()]);
  }

  _drawChanged() {
    const d = this.draw;
    document.getElementById('restriction-hint').textContent = d.mode ? d.hint() : 'Draw the area, then give its times.';
    document.getElementById('restriction-finish').disabled = !d.canFinish();
    document.getElementById('restriction-submit').disabled = d.geometry() === null;
  }

  async _createRestriction() {
    const message = document.getElementById('restriction-message');
    const geometry = this.draw.geometry();
    const form = document.getElementById('restriction-form').elements;
    const start = toRfc3339(form.start.value);
    const end = toRfc3339(form.end.value);
    if (!geometry || !start || !end) {
      message.className = 'error';
      message.textContent = !geometry ? 'Draw the area first.' : 'Give both a start and an end.';
      return;
    }
    const properties = {
      id: form.id.value.trim(),
      name: form.name.value.trim() || form.id.value.trim(),
      kind: form.kind.value,
      reason: form.reason.value.trim(),
      start,
      end,
    };
    if (form.ceiling.value !== '') properties.ceiling_m = Number(form.ceiling.value);
    const body = { type: 'FeatureCollection', features: [{ type: 'Feature', properties, geometry }] };
    message.className = 'muted';
    message.textContent = 'Putting the restriction in force...';
    try {
      const answer = await api.post('/api/v1/restrictions', body);
      const met = answer.affected_flights.map((f) => `${f.drone} (legs ${f.legs.join(', ')})`);
      message.className = '';
      message.textContent = `Restriction ${answer.restrictions.join(', ')} in force from ${new Date(start).toLocaleString()} to ${new Date(end).toLocaleString()}.`
        + (met.length ? ` Flights in the air it meets: ${met.join('; ')}.` : ' No flight in the air meets it.');
      this.draw.clear();
      await Promise.all([this._loadRestrictions(), this.onZonesChanged()]);
    } catch (error) {
      message.className = 'error';
      message.textContent = `Refused: ${describe(error)}`;
    }
  }

  async _loadRestrictions() {
    const body = document.querySelector('#restriction-table tbody');
    let collection;
    try {
      collection = await api.get('/api/v1/restrictions');
    } catch (error) {
      body.innerHTML = `<tr><td colspan="4" class="error">${escapeHtml(describe(error))}</td></tr>`;
      return;
    }
    body.replaceChildren(...collection.features.map((f) => {
      const p = f.properties;
      const row = document.createElement('tr');
      row.dataset.restriction = p.id;
      const when = `${p.start ? new Date(p.start).toLocaleString() : 'now'} - ${p.end ? new Date(p.end).toLocaleString() : 'until lifted'}`;
      row.innerHTML = `<td>${escapeHtml(p.id)}</td><td>${escapeHtml(p.kind)}</td><td>${escapeHtml(when)}</td><td><button type="button">Lift</button></td>`;
      row.querySelector('button').addEventListener('click', () => this._lift(p.id));
      return row;
    }));
  }

  async _lift(id) {
    const message = document.getElementById('restriction-message');
    if (!(await confirmAction(`Lift restriction ${id}? Flights may be planned through it again at once.`, 'Lift'))) return;
    try {
      await api.del(`/api/v1/restrictions/${encodeURIComponent(id)}`);
      message.className = '';
      message.textContent = `Restriction ${id} lifted.`;
      await Promise.all([this._loadRestrictions(), this.onZonesChanged()]);
    } catch (error) {
      message.className = 'error';
      message.textContent = `Not lifted: ${describe(error)}`;
    }
  }

  async _loadDepartments() {
    const body = document.querySelector('#department-table tbody');
    let departments;
    try {
      ({ departments } = await api.get('/api/v1/departments'));
    } catch (error) {
      body.innerHTML = `<tr><td colspan="4" class="error">${escapeHtml(describe(error))}</td></tr>`;
      return;
    }
    body.replaceChildren(...departments.map((d) => {
      const row = document.createElement('tr');
      row.dataset.department = d.id;
      row.innerHTML = `<td>${escapeHtml(d.id)}</td><td>${escapeHtml(d.name)}</td>`
        + '<td><input type="number" min="0" size="4" aria-label="max open tasks" title="leave empty for no limit"></td><td><button type="button">Save</button></td>';
      const input = row.querySelector('input');
      input.value = d.max_open_tasks ?? '';
      row.querySelector('button').addEventListener('click', () => this._putDepartment(d.id, d.name, input.value));
      return row;
    }));
  }

  async _putDepartment(id, name, quota) {
    const message = document.getElementById('department-message');
    if (!id || !name) {
      message.className = 'error';
      message.textContent = 'A department needs an id and a name.';
      return;
    }
    const body = { name, max_open_tasks: quota === '' ? null : Number(quota) };
    try {
      await api.put(`/api/v1/departments/${encodeURIComponent(id)}`, body);
      message.className = '';
      message.textContent = `Department ${id}: ${body.max_open_tasks == null ? 'no quota' : `at most ${body.max_open_tasks} unfinished tasks`}.`;
      await this._loadDepartments();
    } catch (error) {
      message.className = 'error';
      message.textContent = `Not saved: ${describe(error)}`;
    }
  }
}
