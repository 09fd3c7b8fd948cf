// Drawing a task's shape: a point (one click), an area (clicks, then Finish
// or a double click closes the polygon) or a corridor line (the same, two
// vertices or more). The result is a GeoJSON geometry, [lon, lat] order.
import L from 'leaflet';

const NEEDS = { point: 1, polygon: 3, line: 2 };

export class DrawTool {
  constructor(map, renderer, onChange) {
    this.map = map;
    this.renderer = renderer;
    this.onChange = onChange;
    this.mode = null;
    this.vertices = [];
    this.finished = false;
    this.layer = L.layerGroup().addTo(map);
    map.on('click', (e) => this._click(e));
    map.on('dblclick', (e) => {
      if (this.mode && !this.finished) {
        L.DomEvent.stop(e);
        this.finish();
      }
    });
  }

  start(mode) {
    this.clear();
    this.mode = mode;
    // A double click ends a shape while drawing, instead of zooming.
    this.map.doubleClickZoom.disable();
    this.map.getContainer().classList.add('drawing');
    this._changed();
  }

  clear() {
    this.mode = null;
    this.vertices = [];
    this.finished = false;
    this.layer.clearLayers();
    this.map.doubleClickZoom.enable();
    this.map.getContainer().classList.remove('drawing');
    this._changed();
  }

  canFinish() {
    return this.mode !== null && !this.finished && this.vertices.length >= NEEDS[this.mode];
  }

  finish() {
    if (!this.canFinish()) return;
    this.finished = true;
    this.map.getContainer().classList.remove('drawing');
    // Re-enabled after this event loop turn, so the closing double click
    // does not zoom.
    setTimeout(() => this.map.doubleClickZoom.enable(), 0);
    this._render();
    this._changed();
  }

  /// The finished geometry, or null.
  geometry() {
    if (!this.finished) return null;
    const coords = this.vertices.map((v) => [round(v.lng), round(v.lat)]);
    switch (this.mode) {
      case 'point':
        return { type: 'Point', coordinates: coords[0] };
      case 'line':
        return { type: 'LineString', coordinates: coords };
      case 'polygon':
        return { type: 'Polygon', coordinates: [[...coords, coords[0]]] };
      default:
        return null;
    }
  }

  hint() {
    if (!this.mode) return 'Pick a shape, then click on the map.';
    if (this.finished) return `Shape ready (${this.vertices.length} point${this.vertices.length > 1 ? 's' : ''}).`;
    if (this.mode === 'point') return 'Click the point to inspect.';
    return `Click the vertices (${this.vertices.length} so far), then Finish shape or double click.`;
  }

  _click(e) {
    if (!this.mode || this.finished) return;
    // Two clicks of a double click arrive first: skip the repeated vertex.
    const last = this.vertices[this.vertices.length - 1];
    if (last && this.map.latLngToContainerPoint(last).distanceTo(e.containerPoint) < 3) return;
    this.vertices.push(e.latlng);
    if (this.mode === 'point') {
      this.finish();
      return;
    }
    this._render();
    this._changed();
  }

  _render() {
    this.layer.clearLayers();
    const style = { renderer: this.renderer, color: '#7b2cbf', weight: 3 };
    if (this.mode === 'polygon' && this.finished) {
      L.polygon(this.vertices, { ...style, fillOpacity: 0.2 }).addTo(this.layer);
    } else if (this.mode !== 'point' && this.vertices.length > 1) {
      L.polyline(this.vertices, { ...style, dashArray: this.finished ? null : '4 4' }).addTo(this.layer);
    }
    for (const v of this.vertices) {
      L.circleMarker(v, { renderer: this.renderer, radius: 4, color: '#7b2cbf', fillOpacity: 1 }).addTo(this.layer);
    }
  }

  _changed() {
    this.onChange(this);
  }
}

function round(x) {
  return Math.round(x * 1e7) / 1e7;
}
