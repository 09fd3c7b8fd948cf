// Every drone on one canvas, redrawn whole on each fleet update (2 Hz) and
// on every pan or zoom. One canvas draw of N small triangles stays in the
// low milliseconds for N = 1,000, where N Leaflet markers would mean N DOM
// nodes (or N path objects) to update each time.
import L from 'leaflet';

/// Link state from what the fleet endpoint says: `offline` when the bridge
/// said so (or never spoke), `stale` when telemetry is older than 3 s.
export function linkState(drone) {
  if (!drone.online || !drone.telemetry) return 'offline';
  if ((drone.seconds_since_telemetry ?? Infinity) > 3) return 'stale';
  return 'live';
}

const LINK_COLOURS = { live: '#111', stale: '#e0a800', offline: '#999' };

export function batteryColour(pct) {
  if (pct == null) return '#bbb';
  if (pct < 20) return '#d7263d';
  if (pct < 40) return '#f46036';
  return '#2e933c';
}

export const FleetLayer = L.Layer.extend({
  initialize(options = {}) {
    this._drones = [];
    this._selected = null;
    this._highlight = new Set();
    this._onSelect = options.onSelect ?? (() => {});
    this.lastDrawMs = 0;
  },

  onAdd(map) {
    this._map = map;
    this._canvas = L.DomUtil.create('canvas', 'fleet-canvas leaflet-zoom-hide');
    // Its own pane above the overlays, so zones and docks (drawn on
    // Leaflet's canvas in the overlay pane) never cover a drone.
    const pane = map.getPane('fleet') ?? map.createPane('fleet');
    pane.style.zIndex = 450;
    pane.style.pointerEvents = 'none';
    pane.appendChild(this._canvas);
    map.on('moveend zoomend resize viewreset', this._reset, this);
    map.on('click', this._click, this);
    this._reset();
  },

  onRemove(map) {
    map.off('moveend zoomend resize viewreset', this._reset, this);
    map.off('click', this._click, this);
    this._canvas.remove();
  },

  setDrones(drones) {
    this._drones = drones;
    this._draw();
  },

  select(id) {
    this._selected = id;
    this._draw();
  },

  /// Drones flying one of these tasks get a ring (the department's own).
  highlightTasks(taskIds) {
    this._highlight = new Set(taskIds);
    this._draw();
  },

  _reset() {
    const size = this._map.getSize();
    const ratio = window.devicePixelRatio || 1;
    L.DomUtil.setPosition(this._canvas, this._map.containerPointToLayerPoint([0, 0]));
    this._canvas.width = size.x * ratio;
    this._canvas.height = size.y * ratio;
    this._canvas.style.width = `${size.x}px`;
    this._canvas.style.height = `${size.y}px`;
    this._draw();
  },

  _draw() {
    if (!this._map) return;
    const started = performance.now();
    const ratio = window.devicePixelRatio || 1;
    const ctx = this._canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
    const size = this._map.getSize();
    const labels = this._map.getZoom() >= 15;
    ctx.font = '11px sans-serif';
    this._screen = [];
    for (const drone of this._drones) {
      const t = drone.telemetry;
      if (!t) continue;
      const p = this._map.latLngToContainerPoint([t.lat_deg, t.lon_deg]);
      if (p.x < -20 || p.y < -20 || p.x > size.x + 20 || p.y > size.y + 20) continue;
      this._screen.push({ id: drone.id, x: p.x, y: p.y });
      const heading = ((t.heading_deg ?? 0) * Math.PI) / 180;
      const flying = t.landed === 'in_air' || t.armed;
      const r = flying ? 9 : 6;
      ctx.save();
      ctx.translate(p.x, p.y);
      ctx.rotate(heading);
      ctx.beginPath();
      ctx.moveTo(0, -r);
      ctx.lineTo(r * 0.65, r * 0.75);
      ctx.lineTo(0, r * 0.35);
      ctx.lineTo(-r * 0.65, r * 0.75);
      ctx.closePath();
      ctx.fillStyle = batteryColour(t.battery_pct);
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = LINK_COLOURS[linkState(drone)];
      ctx.stroke();
      ctx.restore();
      const ringed = drone.id === this._selected
        || (drone.task_ids ?? []).some((id) => this._highlight.has(id));
      if (ringed) {
        ctx.beginPath();
        ctx.arc(p.x, p.y, r + 5, 0, 2 * Math.PI);
        ctx.lineWidth = 2;
        ctx.strokeStyle = drone.id === this._selected ? '#7b2cbf' : '#1b98e0';
        ctx.stroke();
      }
      if (labels || drone.id === this._selected) {
        ctx.fillStyle = '#111';
        ctx.fillText(drone.id, p.x + r + 3, p.y + 4);
      }
    }
    this.lastDrawMs = performance.now() - started;
  },

  _click(event) {
    if (!this._screen) return;
    const { x, y } = event.containerPoint;
    let best = null;
    let bestD = 12 * 12;
    for (const s of this._screen) {
      const d = (s.x - x) ** 2 + (s.y - y) ** 2;
      if (d < bestD) {
        bestD = d;
        best = s.id;
      }
    }
    if (best) this._onSelect(best);
  },
});
