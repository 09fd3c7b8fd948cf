// The benchmark's peer: the usual Leaflet way to show a fleet, one marker
// per drone (a rotated arrow in a divIcon), created once and then moved
// with setLatLng on each update. Used only by /?bench=N&layer=markers, to
// compare against the single-canvas FleetLayer on the same synthetic fleet.
import L from 'leaflet';
import { batteryColour } from './fleet-layer.js';

export class MarkerFleet {
  constructor(map) {
    this.map = map;
    this.markers = new Map();
  }

  setDrones(drones) {
    for (const drone of drones) {
      const t = drone.telemetry;
      if (!t) continue;
      let marker = this.markers.get(drone.id);
      if (!marker) {
        marker = L.marker([t.lat_deg, t.lon_deg], {
          icon: L.divIcon({ className: 'bench-marker', html: '<div class="arrow"></div>', iconSize: [14, 14] }),
        }).addTo(this.map);
        this.markers.set(drone.id, marker);
      } else {
        marker.setLatLng([t.lat_deg, t.lon_deg]);
      }
      const arrow = marker.getElement()?.firstChild;
      if (arrow) {
        arrow.style.transform = `rotate(${t.heading_deg ?? 0}deg)`;
        arrow.style.borderBottomColor = batteryColour(t.battery_pct);
      }
    }
  }
}
