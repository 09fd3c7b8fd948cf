// Administrator view, drones and docks: every drone with its dock, payloads
// and service state (in service, maintenance, lost, with the reason), set
// with PUT /api/v1/drones/{id}/service; the docks with their positions.
import { api, ApiError } from './api.js';
import { escapeHtml } from './region.js';

const STATES = ['in_service', 'maintenance', 'lost'];

function describe(error) {
  return error instanceof ApiError ? error.describe() : String(error);
}

export class FleetAdmin {
  constructor({ onSelectDock }) {
    this.onSelectDock = onSelectDock;
  }

  async refresh() {
    await Promise.all([this._loadDrones(), this._loadDocks()]);
  }

  async _loadDrones() {
    const body = document.querySelector('#service-table tbody');
    let drones;
    try {
      ({ drones } = await api.get('/api/v1/drones'));
    } catch (error) {
      body.innerHTML = `<tr><td colspan="5" class="error">${escapeHtml(describe(error))}</td></tr>`;
      return;
    }
    body.replaceChildren(...drones.map((d) => {
      const row = document.createElement('tr');
      row.dataset.drone = d.id;
      row.innerHTML = `<td>${escapeHtml(d.id)}</td><td>${escapeHtml(d.dock_id)}</td><td>${escapeHtml((d.payloads ?? []).join(', '))}</td>`
        + `<td><select>${STATES.map((s) => `<option value="${s}">${s.replace('_', ' ')}</option>`).join('')}</select>`
        + '<label>reason <input class="reason" size="10"></label></td><td><button type="button">Set</button></td>';
      const select = row.querySelector('select');
      const reason = row.querySelector('input.reason');
      select.value = d.service;
      reason.value = d.service_reason ?? '';
      row.querySelector('button').addEventListener('click', () => this._setService(d.id, select.value, reason.value.trim()));
      return row;
    }));
  }

  async _setService(id, state, reason) {
    const message = document.getElementById('service-message');
    try {
      await api.put(`/api/v1/drones/${encodeURIComponent(id)}/service`, { state, reason });
      message.className = '';
      message.textContent = `Drone ${id}: ${state.replace('_', ' ')}${reason ? ` (${reason})` : ''}.`;
      await this._loadDrones();
    } catch (error) {
      message.className = 'error';
      message.textContent = `Not set: ${describe(error)}`;
    }
  }

  async _loadDocks() {
    const body = document.querySelector('#dock-table tbody');
    let docks;
    try {
      ({ docks } = await api.get('/api/v1/docks'));
    } catch (error) {
      body.innerHTML = `<tr><td colspan="3" class="error">${escapeHtml(describe(error))}</td></tr>`;
      return;
    }
    body.replaceChildren(...docks.map((d) => {
      const row = document.createElement('tr');
      row.dataset.dock = d.id;
      row.innerHTML = `<td>${escapeHtml(d.id)}</td><td>${escapeHtml(d.name)}</td><td>${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}</td>`;
      row.addEventListener('click', () => this.onSelectDock(d));
      return row;
    }));
  }
}
