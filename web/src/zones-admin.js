// Administrator view, zones: import a zone file (ED-269 JSON, GeoJSON or a
// QGroundControl .plan; the dispatcher tells them apart) with POST
// /api/v1/zones, all or nothing, every problem listed when refused; the
// imported zones listed from GET /api/v1/zones, each deletable.
import { api, ApiError } from './api.js';
import { confirmAction } from './confirm.js';
import { escapeHtml } from './region.js';

function describe(error) {
  return error instanceof ApiError ? error.describe() : String(error);
}

export class ZonesAdmin {
  constructor(onZonesChanged) {
    this.onZonesChanged = onZonesChanged;
    document.getElementById('zone-import-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this._import();
    });
  }

  async refresh() {
    const body = document.querySelector('#zone-table tbody');
    let collection;
    try {
      collection = await api.get('/api/v1/zones');
    } catch (error) {
      body.innerHTML = `<tr><td colspan="4" class="error">${escapeHtml(describe(error))}</td></tr>`;
      return;
    }
    body.replaceChildren(...collection.features.map((f) => {
      const p = f.properties;
      const row = document.createElement('tr');
      row.dataset.zone = p.id;
      row.innerHTML = `<td>${escapeHtml(p.id)}</td><td>${escapeHtml(p.kind)}</td><td>${escapeHtml(p.source ?? '')}</td><td></td>`;
      // The map's own zones come with the region; only imported ones go.
      if (p.source === 'imported') {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = 'Delete';
        button.addEventListener('click', () => this._delete(p.id));
        row.cells[3].appendChild(button);
      }
      return row;
    }));
  }

  async _import() {
    const message = document.getElementById('zone-import-message');
    const file = document.getElementById('zone-file').files[0];
    if (!file) {
      message.className = 'error';
      message.textContent = 'Choose a zone file first.';
      return;
    }
    message.className = 'muted';
    message.textContent = `Importing ${file.name}...`;
    try {
      const answer = await api.postText('/api/v1/zones', await file.text());
      message.className = '';
      message.textContent = `Imported from ${file.name}: ${answer.imported.join(', ')}.`;
      await Promise.all([this.refresh(), this.onZonesChanged()]);
    } catch (error) {
      message.className = 'error';
      message.textContent = `${file.name} refused: ${describe(error)}`;
    }
  }

  async _delete(id) {
    const message = document.getElementById('zone-import-message');
    if (!(await confirmAction(`Delete zone ${id}? Flights may be planned through it at once.`, 'Delete'))) return;
    try {
      await api.del(`/api/v1/zones/${encodeURIComponent(id)}`);
      message.className = '';
      message.textContent = `Zone ${id} deleted.`;
      await Promise.all([this.refresh(), this.onZonesChanged()]);
    } catch (error) {
      message.className = 'error';
      message.textContent = `Not deleted: ${describe(error)}`;
    }
  }
}
