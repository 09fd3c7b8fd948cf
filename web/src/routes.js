// Planned routes of the flights in the air (GET /api/v1/flights) and each
// one's progress: the route dashed, the part already flown solid up to the
// drone's position. Progress is where the drone is along its route: the
// nearest leg at or after the last one it was found on, so a survey's
// parallel passes do not make it jump back.
import L from 'leaflet';

const METRES_PER_DEG = 111320;

/// Distance in metres (squared) from p to the segment a-b, and the
/// fraction along it of the nearest point; lon/lat in, a local flat frame.
function nearestOnSegment(p, a, b) {
  const k = Math.cos((p[1] * Math.PI) / 180);
  const ax = (a[0] - p[0]) * k; const ay = a[1] - p[1];
  const bx = (b[0] - p[0]) * k; const by = b[1] - p[1];
  const dx = bx - ax; const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const f = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
  const x = ax + f * dx; const y = ay + f * dy;
  return { d2: (x * x + y * y) * METRES_PER_DEG * METRES_PER_DEG, f };
}

/// The index of the leg the drone at `p` is on, searching from `from`.
export function legAlong(route, p, from = 0) {
  let best = from;
  let bestD2 = Infinity;
  for (let i = Math.max(0, from); i < route.length - 1; i += 1) {
    const { d2 } = nearestOnSegment(p, route[i], route[i + 1]);
    if (d2 < bestD2 - 1) {
      bestD2 = d2;
      best = i;
    }
  }
  return best;
}

export class FlightRoutes {
  constructor(map, renderer) {
    this.map = map;
    this.renderer = renderer;
    this.group = L.layerGroup().addTo(map);
    this.flights = new Map();
  }

  /// The flights from GET /api/v1/flights: adds new routes, drops ended ones.
  setFlights(flights) {
    const seen = new Set();
    for (const flight of flights) {
      const coords = flight.route?.coordinates;
      if (!coords || coords.length < 2) continue;
      const key = `${flight.id}:${flight.task_ids.join(',')}`;
      seen.add(flight.id);
      let entry = this.flights.get(flight.id);
      if (entry && entry.key !== key) {
        this.group.removeLayer(entry.planned);
        this.group.removeLayer(entry.flown);
        entry = null;
      }
      if (!entry) {
        const latlngs = coords.map(([lon, lat]) => [lat, lon]);
        entry = {
          key,
          route: coords,
          leg: 0,
          planned: L.polyline(latlngs, {
            renderer: this.renderer, color: '#3a0ca3', weight: 2, opacity: 0.7, dashArray: '6 6', interactive: false,
          }).addTo(this.group),
          flown: L.polyline([], {
            renderer: this.renderer, color: '#3a0ca3', weight: 4, opacity: 0.9, interactive: false,
          }).addTo(this.group),
        };
        this.flights.set(flight.id, entry);
      }
    }
    for (const [id, entry] of this.flights) {
      if (!seen.has(id)) {
        this.group.removeLayer(entry.planned);
        this.group.removeLayer(entry.flown);
        this.flights.delete(id);
      }
    }
  }

  /// Moves each flight's progress to its drone's position.
  update(dronesById) {
    for (const [id, entry] of this.flights) {
      const t = dronesById.get(id)?.telemetry;
      if (!t || t.lat_deg == null) continue;
      const p = [t.lon_deg, t.lat_deg];
      entry.leg = legAlong(entry.route, p, entry.leg);
      const flown = entry.route.slice(0, entry.leg + 1).map(([lon, lat]) => [lat, lon]);
      flown.push([t.lat_deg, t.lon_deg]);
      entry.flown.setLatLngs(flown);
    }
  }

  /// For tests and the panel: each flight's leg and leg count.
  progress() {
    return [...this.flights].map(([id, e]) => ({ id, leg: e.leg + 1, legs: e.route.length - 1 }));
  }
}
