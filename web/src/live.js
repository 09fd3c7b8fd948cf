// The dispatcher's live stream over WebSocket (/api/v1/live/ws): drone
// positions at 2 Hz, task changes and alerts, one JSON object a message. A
// browser cannot set an Authorization header on a WebSocket, so the token
// travels as the subprotocol `bearer.<token>` beside `skyshare.v1`.
// The socket is reopened after any loss, waiting 0.5 s, then doubling up
// to 10 s; a connection that stayed up resets the wait.

const PROTOCOL = 'skyshare.v1';
const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 10000;

export class LiveStream {
  /// `handlers`: onMessage(object), onOpen(), onDown(waitMs, reason).
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.wait = FIRST_WAIT_MS;
    this.socket = null;
    this.stopped = false;
    this.timer = null;
    this.connects = 0;
  }

  start() {
    this.stopped = false;
    this._open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
  }

  /// Drops the connection as a network loss would (tests use it).
  drop() {
    this.socket?.close(4000, 'dropped by the console');
  }

  _open() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/api/v1/live/ws`, [PROTOCOL, `bearer.${this.token}`]);
    } catch (error) {
      this._retry(String(error));
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.connects += 1;
      this.wait = FIRST_WAIT_MS;
      this.handlers.onOpen?.();
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handlers.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this._retry(opened ? `closed (${event.code})` : 'could not connect');
    };
  }

  _retry(reason) {
    const wait = this.wait;
    this.wait = Math.min(LONGEST_WAIT_MS, this.wait * 2);
    this.handlers.onDown?.(wait, reason);
    this.timer = setTimeout(() => this._open(), wait);
  }
}

/// The fleet as the console holds it: one object per drone, in the shape
/// of GET /api/v1/fleet, updated in place by the stream's drone messages.
/// Link staleness is measured on this side: the time since a drone's
/// telemetry timestamp last changed.
export class FleetModel {
  constructor() {
    this.byId = new Map();
    this.list = [];
    this.changedAt = new Map();
  }

  /// A whole fleet from GET /api/v1/fleet.
  load(drones) {
    const now = performance.now();
    this.byId = new Map(drones.map((d) => [d.id, d]));
    this.list = [...drones];
    for (const d of drones) {
      this.changedAt.set(d.id, now - (d.seconds_since_telemetry ?? Infinity) * 1000);
    }
  }

  /// One drone message from the stream; returns false for a drone the
  /// console has not loaded (the caller reloads the fleet).
  apply(m) {
    let drone = this.byId.get(m.id);
    if (!drone) return false;
    drone.online = m.online;
    drone.task_id = m.task_id;
    drone.task_ids = m.task_ids;
    // The stream names the pilot only; the time taken over stays as loaded.
    if (!m.taken_over_by) drone.taken_over = null;
    else if (drone.taken_over?.pilot !== m.taken_over_by) drone.taken_over = { pilot: m.taken_over_by, since: null };
    if (m.lat_deg == null) {
      drone.telemetry = null;
      return true;
    }
    const t = drone.telemetry ?? (drone.telemetry = {});
    if (t.ts_ms !== m.ts_ms) this.changedAt.set(m.id, performance.now());
    t.ts_ms = m.ts_ms;
    t.lat_deg = m.lat_deg;
    t.lon_deg = m.lon_deg;
    t.alt_rel_m = m.alt_rel_m;
    t.alt_msl_m = m.alt_msl_m;
    t.heading_deg = m.heading_deg;
    t.battery_pct = m.battery_pct;
    t.battery_v = m.battery_v;
    t.vel_north_mps = m.vel_north_mps;
    t.vel_east_mps = m.vel_east_mps;
    t.vel_down_mps = m.vel_down_mps;
    t.mode = m.mode;
    t.armed = m.armed;
    t.landed = m.landed;
    t.mission_seq = m.mission_seq;
    t.mission_total = m.mission_total;
    return true;
  }

  /// The drones, with each one's age of telemetry brought up to now.
  snapshot() {
    const now = performance.now();
    for (const d of this.list) {
      const at = this.changedAt.get(d.id);
      d.seconds_since_telemetry = at == null || !Number.isFinite(at) ? null : (now - at) / 1000;
    }
    return this.list;
  }
}
