// The region on the map: boundary, zones coloured by kind (dashed and pale
// when not active now), docks.
import L from 'leaflet';

export const ZONE_COLOURS = {
  prohibited: '#d7263d',
  authorisation_required: '#f46036',
  conditional: '#e0a800',
  advisory: '#1b98e0',
  operating_area: '#2e933c',
};

function zoneStyle(props) {
  const colour = ZONE_COLOURS[props.kind] ?? '#666';
  return props.active
    ? { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.3 }
    : { color: colour, weight: 1.5, dashArray: '6 6', fillColor: colour, fillOpacity: 0.06 };
}

function zonePopup(p) {
  const state = p.active ? 'active now' : 'not active now';
  return `<b>${escapeHtml(p.id)}</b> ${escapeHtml(p.name ?? '')}<br>${escapeHtml(p.kind)}, ${state}<br>`
    + `${escapeHtml(p.band)}; ${escapeHtml(p.when)}<br>${escapeHtml(p.reason ?? '')}`;
}

export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/// A legend of zone kinds and drone symbols, bottom left.
export function addLegend(map) {
  const legend = L.control({ position: 'bottomleft' });
  legend.onAdd = () => {
    const div = L.DomUtil.create('div', 'legend');
    div.innerHTML = Object.entries(ZONE_COLOURS)
      .map(([kind, colour]) => `<div><i style="background:${colour}"></i>${kind.replace('_', ' ')}</div>`)
      .join('')
      + '<div><i class="inactive"></i>dashed: not active now</div>'
      + '<div>drone: arrow = heading, fill = battery, outline = link (black live, amber stale, grey offline)</div>';
    return div;
  };
  legend.addTo(map);
}

/// Adds the region to `map`; returns its parts for the rest of the console.
/// A click on a zone shows its details unless `drawing()` says the click is
/// a vertex of a shape being drawn (Leaflet's bound popups would stop the
/// click from reaching the map).
export function addRegion(map, collection, renderer, drawing = () => false) {
  const docks = [];
  const zones = [];
  const zoneLayers = new Map();
  let boundary = null;
  const group = L.layerGroup().addTo(map);
  for (const feature of collection.features) {
    const p = feature.properties;
    if (p.role === 'boundary') {
      boundary = L.geoJSON(feature, {
        renderer,
        interactive: false,
        style: { color: '#333', weight: 2, fill: false },
      }).addTo(group);
    } else if (p.role === 'zone') {
      const style = zoneStyle(p);
      const layer = feature.geometry.type === 'Point'
        ? L.circle([feature.geometry.coordinates[1], feature.geometry.coordinates[0]], { ...style, radius: p.radius_m, renderer })
        : L.geoJSON(feature, { style, renderer });
      layer.on('click', (e) => {
        if (!drawing()) L.popup().setLatLng(e.latlng).setContent(zonePopup(p)).openOn(map);
      });
      layer.addTo(group);
      zones.push(p);
      zoneLayers.set(p.id, { layer, style });
    } else if (p.role === 'dock') {
      const [lon, lat] = feature.geometry.coordinates;
      L.circleMarker([lat, lon], { renderer, radius: 7, color: '#222', weight: 2, fillColor: '#fff', fillOpacity: 1 })
        .bindTooltip(`${p.name} (${p.id})`)
        .addTo(group);
      docks.push({ id: p.id, name: p.name, lat, lon });
    }
  }
  /// Outlines the zones whose ids appear in `text` (a refusal from the
  /// dispatcher names the zones at fault); returns their ids. An empty
  /// text restores every zone's own style.
  const highlightZonesNamedIn = (text) => {
    const named = [];
    const words = new Set(text.split(/[^A-Za-z0-9_.-]+/).map((w) => w.replace(/[.]+$/, '')));
    for (const [id, { layer, style }] of zoneLayers) {
      const hit = words.has(id);
      layer.setStyle(hit ? { ...style, color: '#7b2cbf', weight: 5, dashArray: null } : style);
      if (hit) named.push(id);
    }
    return named;
  };
  return { boundary, docks, zones, highlightZonesNamedIn, group };
}
