//! `…/telemetry`: QoS 0, rate-limited by the bridge (2 Hz by default). A lost
//! sample is replaced by the next one, so nothing here needs acknowledging.

use serde::{Deserialize, Serialize};

/// Flight mode, normalised across autopilots. The bridge maps PX4 main/sub
/// modes and ArduPilot mode numbers onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlightMode {
    Manual,
    Stabilized,
    Position,
    Hold,
    Takeoff,
    Mission,
    Return,
    Land,
    Guided,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandedState {
    Unknown,
    OnGround,
    InAir,
    TakingOff,
    Landing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    pub v: u32,
    pub drone: String,
    /// Bridge wall-clock time of the sample, ms since the Unix epoch.
    pub ts_ms: i64,
    pub lat_deg: f64,
    pub lon_deg: f64,
    /// Above mean sea level.
    pub alt_msl_m: f64,
    /// Above the home position.
    pub alt_rel_m: f64,
    pub vel_north_mps: f64,
    pub vel_east_mps: f64,
    /// Positive downwards, as MAVLink reports it.
    pub vel_down_mps: f64,
    /// 0..360 clockwise from north; None when the autopilot does not know.
    pub heading_deg: Option<f64>,
    /// 0..100; None when the autopilot does not estimate it.
    pub battery_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub mode: FlightMode,
    pub armed: bool,
    pub landed: LandedState,
    /// The mission item the autopilot is flying to, and the mission's size.
    pub mission_seq: Option<u16>,
    pub mission_total: Option<u16>,
}
crate::payload!(Telemetry, "telemetry");
