//! `…/events`: QoS 1. Each event has a unique `id`; the dispatcher keeps the
//! ids it has seen, so a redelivered event (QoS 1 allows duplicates, and a
//! bridge may resend its buffer after a reconnect) is applied once.

use serde::{Deserialize, Serialize};

use crate::telemetry::FlightMode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// No deny_unknown_fields: serde does not support it together with flatten.
pub struct Event {
    pub v: u32,
    /// Unique per event, chosen by the bridge (drone id plus a counter that
    /// survives restarts, or a UUID).
    pub id: String,
    pub drone: String,
    pub ts_ms: i64,
    #[serde(flatten)]
    pub body: EventBody,
}
crate::payload!(Event, "event");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum EventBody {
    /// The autopilot reached mission item `seq` (index into the uploaded
    /// mission, as the dispatcher sent it: 0 is the first item).
    MissionItemReached {
        seq: u16,
        total: u16,
    },
    /// The last mission item was reached.
    MissionCompleted {
        total: u16,
    },
    ImageCaptured(ImageCaptured),
    StatusText {
        severity: u8,
        text: String,
        /// A long text arrives in chunks; true when some never came and
        /// `text` is what did (gaps shown as `…`). Absent means complete.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        incomplete: bool,
    },
    ModeChanged {
        mode: FlightMode,
    },
    ArmedChanged {
        armed: bool,
    },
    /// The vehicle is on the ground and disarmed after having flown.
    Landed {
        lat_deg: f64,
        lon_deg: f64,
    },
    /// The bridge stopped hearing the autopilot's HEARTBEAT.
    AutopilotLinkLost,
    AutopilotLinkRegained,
    /// The autopilot took over: a failsafe it announced (battery, data
    /// link, GPS, EKF...) or a switch to return or land that no command of
    /// this bridge asked for. `mode` is the mode it switched to, if any.
    Failsafe {
        reason: String,
        mode: Option<FlightMode>,
    },
    /// The vehicle breached its geofence (MAVLink FENCE_STATUS).
    FenceBreached {
        /// What was breached: `min_altitude`, `max_altitude`, `boundary`
        /// or `unknown`.
        breach: String,
        breach_count: u16,
        lat_deg: Option<f64>,
        lon_deg: Option<f64>,
    },
    /// The vehicle is back inside its geofence.
    FenceCleared,
}

/// One photo, from MAVLink CAMERA_IMAGE_CAPTURED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCaptured {
    /// 0-based index within the vehicle's session.
    pub index: i32,
    /// Capture time, µs since the Unix epoch; None when the camera does not know.
    pub time_utc_us: Option<u64>,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
    pub alt_rel_m: f64,
    /// Camera orientation quaternion (w, x, y, z), NED.
    pub q: [f32; 4],
    pub file_url: Option<String>,
}
