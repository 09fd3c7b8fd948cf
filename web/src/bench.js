// In-page benchmark (open /?bench=1000): a synthetic fleet of N drones
// wandering over the region, each sending a live-stream message at 2 Hz
// (the JSON text the WebSocket delivers), through the same parsing, fleet
// model, map layer, route layer and drone table as live data. It measures
// the time of each update (parse + apply + map redraw + table) and the
// longest gap between animation frames while it runs (the first update,
// which builds the table, apart), and leaves the figures in
// window.skyshareBench. No request reaches the dispatcher in this mode.

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/// The live stream's message for one synthetic drone.
function message(d) {
  const t = d.telemetry;
  return JSON.stringify({
    type: 'drone', id: d.id, online: true, ...t, task_id: null, task_ids: [],
  });
}

export async function runBench({ count, seconds, bounds, load, apply, report }) {
  // A fixed-seed generator, so two runs draw the same fleet.
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const south = bounds.getSouth();
  const west = bounds.getWest();
  const dLat = bounds.getNorth() - south;
  const dLon = bounds.getEast() - west;
  const drones = Array.from({ length: count }, (_, i) => ({
    id: `bench-${String(i).padStart(4, '0')}`,
    dock_id: 'bench',
    sensors: ['visible'],
    online: true,
    seconds_since_telemetry: 0.2,
    task_id: null,
    task_ids: [],
    telemetry: {
      lat_deg: south + random() * dLat,
      lon_deg: west + random() * dLon,
      heading_deg: random() * 360,
      battery_pct: 20 + random() * 80,
      battery_v: 16,
      mode: 'mission',
      armed: true,
      landed: 'in_air',
      alt_rel_m: 50,
      alt_msl_m: 70,
      vel_north_mps: 0,
      vel_east_mps: 0,
      vel_down_mps: 0,
      mission_seq: 1,
      mission_total: 10,
      ts_ms: 0,
    },
  }));
  const updateMs = [];
  let longestGap = 0;
  let last = null;
  let running = true;
  // Frame gaps are counted from the second update on: the first one builds
  // the table's rows and is reported on its own.
  const frame = (now) => {
    if (last !== null) longestGap = Math.max(longestGap, now - last);
    last = now;
    if (running) requestAnimationFrame(frame);
  };
  load(drones.map((d) => ({ ...d, telemetry: { ...d.telemetry } })));
  const updates = Math.round(seconds * 2) + 1;
  for (let u = 0; u < updates; u += 1) {
    if (u === 1) requestAnimationFrame(frame);
    // About 15 m/s: 7.5 m per half second, along each drone's heading.
    for (const d of drones) {
      const t = d.telemetry;
      t.heading_deg = (t.heading_deg + (random() - 0.5) * 20 + 360) % 360;
      const h = (t.heading_deg * Math.PI) / 180;
      t.lat_deg += (7.5 * Math.cos(h)) / 111320;
      t.lon_deg += (7.5 * Math.sin(h)) / (111320 * Math.cos((t.lat_deg * Math.PI) / 180));
      t.battery_pct = Math.max(0, t.battery_pct - 0.01);
      t.ts_ms += 500;
    }
    const texts = drones.map(message);
    const started = performance.now();
    apply(texts);
    updateMs.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  running = false;
  const [firstMs, ...steady] = updateMs;
  const sorted = [...steady].sort((a, b) => a - b);
  const result = {
    drones: count,
    updates: steady.length,
    first_update_ms: firstMs,
    update_ms_mean: steady.reduce((a, b) => a + b, 0) / steady.length,
    update_ms_p95: percentile(sorted, 0.95),
    update_ms_max: sorted[sorted.length - 1],
    longest_frame_gap_ms: longestGap,
  };
  window.skyshareBench = result;
  report(result);
  return result;
}
