// Alerts for pilots and administrators (GET /api/v1/alerts, acknowledged
// with POST /api/v1/alerts/{id}/acknowledge); the live stream's `alert`
// messages keep the list current between loads. Open alerts first, newest
// first; a cleared alert stays listed until acknowledged.
import { api, ApiError } from './api.js';
import { escapeHtml } from './region.js';

export class AlertsPanel {
  constructor({ onSelectDrone }) {
    this.alerts = new Map();
    this.onSelectDrone = onSelectDrone;
    this.available = null;
    this.list = document.getElementById('alert-list');
    this.note = document.getElementById('alert-note');
  }

  /// Loads the open alerts; hides the list for callers who may not see
  /// alerts (departments) and dispatchers without them.
  async load() {
    try {
      const { alerts } = await api.get('/api/v1/alerts?state=open');
      this.available = true;
      this.alerts = new Map(alerts.map((a) => [a.id, a]));
      this.note.textContent = '';
    } catch (error) {
      if (!(error instanceof ApiError) || ![403, 404].includes(error.status)) throw error;
      this.available = false;
      this.note.textContent = error.status === 403 ? 'Alerts are for pilots and administrators.' : 'This dispatcher does not report alerts.';
    }
    this.render();
  }

  /// Hides the list for a caller whose role may not see alerts, without
  /// asking the server to refuse it.
  withhold(reason) {
    this.available = false;
    this.alerts = new Map();
    this.note.textContent = reason;
    this.render();
  }

  /// An alert from the live stream: raised, cleared or acknowledged.
  update(alert) {
    if (this.available === false) return;
    this.alerts.set(alert.id, alert);
    this.render();
  }

  async acknowledge(id) {
    const message = document.getElementById('alert-message');
    try {
      const alert = await api.post(`/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`);
      this.alerts.set(alert.id, alert);
      message.className = 'muted';
      message.textContent = `Alert on ${alert.drone_id} acknowledged.`;
    } catch (error) {
      message.className = 'error';
      message.textContent = error instanceof ApiError ? `Not acknowledged: ${error.describe()}` : `Not acknowledged: ${error}`;
    }
    this.render();
  }

  render() {
    const section = document.getElementById('alerts');
    section.hidden = this.available === false;
    const shown = [...this.alerts.values()]
      .filter((a) => !(a.cleared_at && a.acknowledged_at))
      .sort((a, b) => Number(Boolean(a.acknowledged_at)) - Number(Boolean(b.acknowledged_at)) || b.raised_at.localeCompare(a.raised_at));
    document.getElementById('alert-count').textContent = `${shown.filter((a) => !a.acknowledged_at).length} to acknowledge`;
    this.list.replaceChildren(...shown.map((a) => this._item(a)));
  }

  _item(a) {
    const li = document.createElement('li');
    li.dataset.alert = a.id;
    li.className = a.acknowledged_at ? 'acknowledged' : 'open';
    const when = new Date(a.raised_at).toLocaleTimeString();
    const state = [
      a.cleared_at ? `cleared ${new Date(a.cleared_at).toLocaleTimeString()}` : 'active',
      a.acknowledged_at ? `acknowledged by ${a.acknowledged_by} ${new Date(a.acknowledged_at).toLocaleTimeString()}` : null,
    ].filter(Boolean).join(', ');
    li.innerHTML = `<a href="#" class="alert-drone">${escapeHtml(a.drone_id)}</a> <b>${escapeHtml(a.kind)}</b> ${escapeHtml(when)}`
      + `<div>${escapeHtml(a.message)}</div><div class="muted alert-state">${escapeHtml(state)}</div>`;
    li.querySelector('.alert-drone').addEventListener('click', (e) => {
      e.preventDefault();
      this.onSelectDrone(a.drone_id);
    });
    if (!a.acknowledged_at) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'acknowledge';
      button.textContent = 'Acknowledge';
      button.addEventListener('click', () => this.acknowledge(a.id));
      li.appendChild(button);
    }
    return li;
  }
}
