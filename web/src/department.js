// Department view: draw a task, see the airspace check's answer for it
// before submitting (the planned route, the offending legs and zones
// outlined), submit it, follow the department's tasks (state, progress,
// why waiting), and see a selected task's shape and photos.
import L from 'leaflet';
import { api, ApiError } from './api.js';
import { DrawTool } from './draw.js';
import { escapeHtml } from './region.js';

const KIND_OF_MODE = { point: 'point_inspection', polygon: 'area_survey', line: 'corridor_survey' };

export class DepartmentView {
  constructor(map, renderer, fleetLayer) {
    this.map = map;
    this.renderer = renderer;
    this.fleetLayer = fleetLayer;
    this.tasks = [];
    /// Ids submitted here that the list read back may not hold yet.
    this.submitted = new Set();
    this.selected = null;
    this.imageCount = -1;
    this.taskLayer = L.layerGroup().addTo(map);
    this.imageLayer = L.layerGroup().addTo(map);
    this.checkLayer = L.layerGroup().addTo(map);
    this.checkSeq = 0;
    this.lastCheck = null;
    this.draw = new DrawTool(map, renderer, () => this._drawChanged());
    this.rows = new Map();
    // A changed sensor, altitude or width changes the planned flight.
    for (const id of ['task-sensor', 'task-priority', 'task-alt', 'task-width']) {
      document.getElementById(id).addEventListener('change', () => this._scheduleCheck());
    }

    for (const button of document.querySelectorAll('[data-draw]')) {
      button.addEventListener('click', () => this.draw.start(button.dataset.draw));
    }
    document.getElementById('draw-finish').addEventListener('click', () => this.draw.finish());
    document.getElementById('draw-clear').addEventListener('click', () => this.draw.clear());
    this.images = [];
    this.markers = [];
    this.timeSlider = document.getElementById('image-time');
    this.timeSlider.addEventListener('input', () => this._filterByTime());
    document.getElementById('task-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this._submit();
    });
  }

  _drawChanged() {
    const d = this.draw;
    if (d.mode && !d.finished && d.vertices.length === 0) this._showOffendingZones('');
    document.getElementById('draw-hint').textContent = d.hint();
    document.getElementById('draw-finish').disabled = !d.canFinish();
    document.getElementById('task-submit').disabled = d.geometry() === null;
    document.getElementById('width-label').hidden = d.mode !== 'line';
    for (const b of document.querySelectorAll('[data-draw]')) {
      b.classList.toggle('active', b.dataset.draw === d.mode);
    }
    this._scheduleCheck();
  }

  /// The task request the form and the drawn shape make, or null.
  _requestBody() {
    const geometry = this.draw.geometry();
    if (!geometry) return null;
    const body = {
      kind: KIND_OF_MODE[this.draw.mode],
      geometry,
      alt_m: Number(document.getElementById('task-alt').value),
      sensor: document.getElementById('task-sensor').value,
      priority: document.getElementById('task-priority').value,
    };
    if (this.draw.mode === 'line') body.width_m = Number(document.getElementById('task-width').value);
    return body;
  }

  /// Runs the airspace check shortly after the shape or the form settles;
  /// with no finished shape, clears the last answer.
  _scheduleCheck() {
    clearTimeout(this.checkTimer);
    this.checkSeq += 1;
    if (!this._requestBody()) {
      this._showCheck(null);
      return;
    }
    document.getElementById('check-result').textContent = 'Checking the airspace...';
    document.getElementById('check-result').className = 'muted';
    this.checkTimer = setTimeout(() => this._check(), 250);
  }

  async _check() {
    const body = this._requestBody();
    if (!body) return;
    const seq = this.checkSeq;
    let answer;
    try {
      answer = await api.post('/api/v1/airspace/check', body);
    } catch (error) {
      if (seq !== this.checkSeq) return;
      this._showCheck(null);
      const node = document.getElementById('check-result');
      node.className = 'error';
      node.textContent = `Airspace check refused the request: ${error instanceof ApiError ? error.describe() : error}`;
      return;
    }
    // A newer shape or form has been checked since.
    if (seq !== this.checkSeq) return;
    this._showCheck(answer);
  }

  /// Draws an answer of POST /api/v1/airspace/check: the planned route,
  /// its blocking legs thick in red with their zones outlined, and the
  /// explanation; null clears it.
  _showCheck(answer) {
    this.lastCheck = answer;
    this.checkLayer.clearLayers();
    const node = document.getElementById('check-result');
    const list = document.getElementById('check-conflicts');
    list.replaceChildren();
    if (!answer) {
      node.textContent = '';
      node.className = 'muted';
      delete node.dataset.ok;
      this._showOffendingZones('');
      return;
    }
    const line = (geometry, style) => L.polyline(geometry.coordinates.map(([lon, lat]) => [lat, lon]), {
      renderer: this.renderer, interactive: false, ...style,
    }).addTo(this.checkLayer);
    line(answer.route, { color: '#555', weight: 2, dashArray: '3 5' });
    const blocking = answer.conflicts.filter((c) => c.blocking !== false);
    for (const c of answer.conflicts) {
      line(c.leg_geometry, c.blocking === false
        ? { color: '#e0a800', weight: 5, opacity: 0.8 }
        : { color: '#d7263d', weight: 7, opacity: 0.9 });
      const li = document.createElement('li');
      li.textContent = c.explanation;
      li.dataset.zone = c.zone_id;
      li.dataset.leg = String(c.leg);
      list.appendChild(li);
    }
    node.dataset.ok = String(answer.ok);
    node.className = answer.ok ? 'check-ok' : 'error';
    const explanation = answer.explanation.charAt(0).toUpperCase() + answer.explanation.slice(1);
    node.textContent = `Airspace check: ${answer.ok ? 'clear' : 'conflict'}. ${explanation}.`;
    this._showOffendingZones(blocking.map((c) => c.zone_id).join(' '));
  }

  async _submit() {
    const body = this._requestBody();
    const message = document.getElementById('submit-message');
    if (!body) return;
    message.className = '';
    message.textContent = 'Submitting...';
    this._showOffendingZones('');
    try {
      const task = await api.post('/api/v1/tasks', body);
      this.draw.clear();
      this._showCheck(null);
      // Listed and selected at once (a read of the list may be under way),
      // then the message: whoever sees it sees the new task selected.
      this.submitted.add(task.id);
      this.tasks = [task, ...this.tasks.filter((t) => t.id !== task.id)];
      this.select(task.id);
      message.textContent = `Task ${task.id.slice(0, 8)} submitted: ${task.state}.`;
      this.refresh().catch(() => {});
    } catch (error) {
      message.className = 'error';
      message.textContent = error instanceof ApiError ? `Refused: ${error.describe()}` : `Failed: ${error}`;
      if (error instanceof ApiError) this._showOffendingZones(error.message);
    }
  }

  /// Outlines on the map the zones the refusal names, and lists them.
  _showOffendingZones(text) {
    const named = this.highlightZonesNamedIn?.(text) ?? [];
    const note = document.getElementById('zone-highlight');
    note.textContent = named.length ? `Outlined on the map: ${named.join(', ')}` : '';
  }

  /// One poll: the department's tasks, and the selected task's photos.
  async refresh() {
    const { tasks } = await api.get('/api/v1/tasks');
    // A task submitted while this read was under way stays listed.
    const listed = new Set(tasks.map((t) => t.id));
    for (const t of this.tasks) if (this.submitted.has(t.id) && !listed.has(t.id)) tasks.push(t);
    for (const id of listed) this.submitted.delete(id);
    this.tasks = tasks.sort((a, b) => b.created_at_ms - a.created_at_ms);
    this._renderTable();
    this.fleetLayer.highlightTasks(this.tasks.filter((t) => t.state === 'in_flight' || t.state === 'assigned').map((t) => t.id));
    if (this.selected) await this._refreshSelected();
  }

  select(id) {
    this.selected = id;
    this.imageCount = -1;
    this.images = [];
    this.markers = [];
    this.imageLayer.clearLayers();
    this.taskLayer.clearLayers();
    this._unfitBand?.();
    this._unfitBand = null;
    // The previous task's photo figures go with it.
    document.getElementById('image-count').textContent = '0';
    document.getElementById('image-window').textContent = '';
    this.timeSlider.min = '0';
    this.timeSlider.max = '0';
    this.timeSlider.value = '0';
    const task = this.tasks.find((t) => t.id === id);
    if (task) {
      const shape = L.geoJSON(task.request.geometry, {
        renderer: this.renderer,
        style: { color: '#1b98e0', weight: 3, fillOpacity: 0.1 },
        pointToLayer: (_, latlng) => L.circleMarker(latlng, { renderer: this.renderer, radius: 8, color: '#1b98e0' }),
      }).addTo(this.taskLayer);
      if (task.request.geometry.type === 'LineString' && task.request.width_m) this._corridorBand(task);
      const bounds = shape.getBounds();
      if (bounds.isValid() && !this.map.getBounds().contains(bounds)) this.map.fitBounds(bounds.pad(0.5), { maxZoom: 17 });
    }
    this._renderTable();
    this._refreshSelected();
  }

  /// A corridor's covered width: the line drawn as wide as `width_m` in
  /// pixels at the current zoom, rescaled after every zoom.
  _corridorBand(task) {
    const latlngs = task.request.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
    const band = L.polyline(latlngs, {
      renderer: this.renderer, color: '#1b98e0', opacity: 0.25, lineCap: 'butt', interactive: false,
    }).addTo(this.taskLayer);
    const fit = () => {
      const lat = (this.map.getCenter().lat * Math.PI) / 180;
      const metresPerPixel = (40075016.686 * Math.cos(lat)) / 2 ** (this.map.getZoom() + 8);
      band.setStyle({ weight: Math.max(2, task.request.width_m / metresPerPixel) });
    };
    fit();
    this.map.on('zoomend', fit);
    this._unfitBand = () => this.map.off('zoomend', fit);
  }

  async _refreshSelected() {
    const id = this.selected;
    const task = this.tasks.find((t) => t.id === id);
    const detail = document.getElementById('task-detail');
    detail.hidden = !task;
    if (!task) return;
    document.getElementById('task-detail-title').textContent = `${task.kind} ${task.id.slice(0, 8)}: ${task.state}`;
    document.getElementById('task-detail-reason').textContent = task.reason ?? '';
    const { images } = await api.get(`/api/v1/images?task=${encodeURIComponent(id)}`);
    if (id !== this.selected || images.length === this.imageCount) return;
    // Photos only accumulate: add the new ones, keep the drawn ones.
    // The time filter follows new photos while it is at its right end.
    const following = this.images.length === 0 || Number(this.timeSlider.value) >= Number(this.timeSlider.max);
    for (const image of images.slice(Math.max(this.imageCount, 0))) {
      this.images.push(image);
      this.markers.push(L.circleMarker([image.lat_deg, image.lon_deg], {
        renderer: this.renderer, radius: 3, color: '#f46036', weight: 1, fillOpacity: 0.8,
      }).bindTooltip(`photo ${image.image_index} by ${image.drone_id}, ${new Date(image.captured_at_ms).toLocaleTimeString()}, ${image.alt_rel_m.toFixed(0)} m`));
    }
    this.imageCount = images.length;
    document.getElementById('image-count').textContent = String(images.length);
    const times = this.images.map((i) => i.captured_at_ms);
    if (times.length === 0) return;
    this.timeSlider.min = String(Math.min(...times));
    this.timeSlider.max = String(Math.max(...times));
    if (following) this.timeSlider.value = this.timeSlider.max;
    this._filterByTime();
  }

  /// Shows the photos taken up to the slider's time.
  _filterByTime() {
    const limit = Number(this.timeSlider.value);
    let shown = 0;
    this.images.forEach((image, i) => {
      const marker = this.markers[i];
      const show = image.captured_at_ms <= limit;
      if (show) shown += 1;
      if (show && !this.imageLayer.hasLayer(marker)) marker.addTo(this.imageLayer);
      if (!show && this.imageLayer.hasLayer(marker)) this.imageLayer.removeLayer(marker);
    });
    document.getElementById('image-window').textContent = this.images.length
      ? `${shown} of ${this.images.length} photos, taken up to ${new Date(limit).toLocaleTimeString()}`
      : '';
  }

  _renderTable() {
    const body = document.querySelector('#task-table tbody');
    const seen = new Set();
    for (const task of this.tasks) {
      seen.add(task.id);
      let row = this.rows.get(task.id);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.task = task.id;
        row.addEventListener('click', () => this.select(task.id));
        this.rows.set(task.id, row);
      }
      const progress = task.progress_total ? `${task.progress_seq ?? 0}/${task.progress_total}` : '';
      row.innerHTML = `<td>${escapeHtml(task.id.slice(0, 8))}</td><td>${escapeHtml(task.kind)}</td>`
        + `<td class="state state-${escapeHtml(task.state)}">${escapeHtml(task.state)}</td><td>${progress}</td>`;
      row.classList.toggle('selected', task.id === this.selected);
      body.appendChild(row);
      seen.add(`${task.id}:reason`);
      const reasonRow = this._reasonRow(task);
      body.appendChild(reasonRow);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
  }

  _reasonRow(task) {
    const key = `${task.id}:reason`;
    let row = this.rows.get(key);
    if (!row) {
      row = document.createElement('tr');
      row.className = 'reason';
      row.innerHTML = '<td colspan="4"></td>';
      this.rows.set(key, row);
    }
    row.firstChild.textContent = task.reason ?? '';
    row.hidden = !task.reason;
    return row;
  }
}
