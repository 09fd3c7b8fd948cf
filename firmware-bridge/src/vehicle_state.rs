//! The latest known state of the vehicle, folded from incoming MAVLink.
//!
//! Pure: `apply` takes the message and the time it arrived, so tests can feed
//! a scripted sequence without a socket or a clock.

use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavLandedState, MavMessage, MavModeFlag, MavType, MissionState,
};
use mavlink::MavHeader;
use wire::{FlightMode, LandedState};

use crate::flight_mode::AutopilotKind;

/// Without a HEARTBEAT for this long the autopilot link counts as lost
/// (QGC uses 3.5 s; the norm is 1 Hz heartbeats, so this is ~3 misses).
pub const AUTOPILOT_LINK_TIMEOUT: Duration = Duration::from_secs(3);

/// MAV_COMP_ID_AUTOPILOT1: QGC only takes a vehicle from this component.
const AUTOPILOT_COMPONENT_ID: u8 = 1;

/// The autopilot this bridge talks to, learned from its first HEARTBEAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutopilotTarget {
    pub system_id: u8,
    pub component_id: u8,
    pub kind: AutopilotKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionFix {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
    pub alt_rel_m: f64,
    pub vel_north_mps: f64,
    pub vel_east_mps: f64,
    pub vel_down_mps: f64,
    pub heading_deg: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VehicleState {
    pub autopilot: Option<AutopilotTarget>,
    pub link_up: bool,
    pub last_heartbeat_at: Option<Instant>,
    /// Counts autopilot HEARTBEATs; lets a waiter tell a fresh report from
    /// one that was already there before it acted.
    pub heartbeats_seen: u64,
    pub custom_mode: u32,
    pub mode: FlightMode,
    pub armed: bool,
    pub position: Option<PositionFix>,
    pub battery_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub landed: LandedState,
    pub mission_seq: Option<u16>,
    pub mission_total: Option<u16>,
    pub mission_state: Option<MissionState>,
}

impl Default for VehicleState {
    fn default() -> Self {
        VehicleState {
            autopilot: None,
            link_up: false,
            last_heartbeat_at: None,
            heartbeats_seen: 0,
            custom_mode: 0,
            mode: FlightMode::Unknown,
            armed: false,
            position: None,
            battery_pct: None,
            battery_v: None,
            landed: LandedState::Unknown,
            mission_seq: None,
            mission_total: None,
            mission_state: None,
        }
    }
}

/// Whether a message was folded in or ignored because it came from another
/// system on the same link (a second GCS, a camera, another vehicle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    FromAutopilot,
    Ignored,
}

impl VehicleState {
    pub fn apply(&mut self, header: &MavHeader, message: &MavMessage, now: Instant) -> Applied {
        let Ok(system_id) = u8::try_from(header.system_id) else {
            return Applied::Ignored;
        };
        if self.autopilot.is_none() {
            match message {
                MavMessage::HEARTBEAT(heartbeat)
                    if is_autopilot(heartbeat.autopilot, heartbeat.mavtype)
                        && header.component_id == AUTOPILOT_COMPONENT_ID =>
                {
                    self.autopilot = Some(AutopilotTarget {
                        system_id,
                        component_id: header.component_id,
                        kind: autopilot_kind(heartbeat.autopilot),
                    });
                }
                _ => return Applied::Ignored,
            }
        }
        let Some(target) = self.autopilot else {
            return Applied::Ignored;
        };
        if system_id != target.system_id {
            return Applied::Ignored;
        }
        match message {
            MavMessage::HEARTBEAT(heartbeat) => {
                // Only the autopilot component's heartbeat describes the vehicle;
                // a camera on the same system sends its own.
                if header.component_id != target.component_id {
                    return Applied::Ignored;
                }
                self.link_up = true;
                self.last_heartbeat_at = Some(now);
                self.heartbeats_seen += 1;
                self.custom_mode = heartbeat.custom_mode;
                self.mode = target.kind.flight_mode(heartbeat.custom_mode);
                self.armed = heartbeat
                    .base_mode
                    .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED);
            }
            MavMessage::GLOBAL_POSITION_INT(position) => {
                self.position = Some(PositionFix {
                    lat_deg: f64::from(position.lat) * 1e-7,
                    lon_deg: f64::from(position.lon) * 1e-7,
                    alt_msl_m: f64::from(position.alt) / 1000.0,
                    alt_rel_m: f64::from(position.relative_alt) / 1000.0,
                    vel_north_mps: f64::from(position.vx) / 100.0,
                    vel_east_mps: f64::from(position.vy) / 100.0,
                    vel_down_mps: f64::from(position.vz) / 100.0,
                    // UINT16_MAX = heading unknown.
                    heading_deg: (position.hdg != u16::MAX)
                        .then(|| f64::from(position.hdg) / 100.0),
                });
            }
            MavMessage::SYS_STATUS(status) => {
                if status.voltage_battery != u16::MAX {
                    self.battery_v = Some(f64::from(status.voltage_battery) / 1000.0);
                }
                if status.battery_remaining >= 0 {
                    self.battery_pct = Some(f64::from(status.battery_remaining));
                }
            }
            MavMessage::BATTERY_STATUS(battery)
                if battery.id == 0 && battery.battery_remaining >= 0 =>
            {
                self.battery_pct = Some(f64::from(battery.battery_remaining));
            }
            MavMessage::EXTENDED_SYS_STATE(extended) => {
                self.landed = match extended.landed_state {
                    MavLandedState::MAV_LANDED_STATE_UNDEFINED => LandedState::Unknown,
                    MavLandedState::MAV_LANDED_STATE_ON_GROUND => LandedState::OnGround,
                    MavLandedState::MAV_LANDED_STATE_IN_AIR => LandedState::InAir,
                    MavLandedState::MAV_LANDED_STATE_TAKEOFF => LandedState::TakingOff,
                    MavLandedState::MAV_LANDED_STATE_LANDING => LandedState::Landing,
                };
            }
            MavMessage::MISSION_CURRENT(current) => {
                // Counted as the dispatcher counts: ArduPilot's home item 0
                // is not one of its items. MAVLink's `total` already leaves
                // a stored home out ("on the last item, seq == total"), so
                // only the sequence number is shifted.
                let offset = crate::mission_upload::mission_seq_offset(target.kind);
                self.mission_seq = Some(current.seq.saturating_sub(offset));
                // UINT16_MAX (or an absent extension, read as 0) = no mission.
                self.mission_total =
                    (current.total != u16::MAX && current.total > 0).then_some(current.total);
                self.mission_state = Some(current.mission_state);
            }
            _ => {}
        }
        Applied::FromAutopilot
    }

    /// Marks the link lost when the autopilot's HEARTBEAT has been silent too
    /// long. Returns whether that changed anything.
    pub fn check_link(&mut self, now: Instant) -> bool {
        let silent_too_long = self
            .last_heartbeat_at
            .is_some_and(|at| now.saturating_duration_since(at) > AUTOPILOT_LINK_TIMEOUT);
        if self.link_up && silent_too_long {
            self.link_up = false;
            return true;
        }
        false
    }

    pub fn in_air(&self) -> bool {
        matches!(
            self.landed,
            LandedState::InAir | LandedState::TakingOff | LandedState::Landing
        )
    }
}

/// The robust test from the MAVLink guide: a GCS, a companion or a camera is
/// not an autopilot even if it sends HEARTBEATs.
fn is_autopilot(autopilot: MavAutopilot, mavtype: MavType) -> bool {
    autopilot != MavAutopilot::MAV_AUTOPILOT_INVALID
        && !matches!(
            mavtype,
            MavType::MAV_TYPE_GCS
                | MavType::MAV_TYPE_ONBOARD_CONTROLLER
                | MavType::MAV_TYPE_GIMBAL
                | MavType::MAV_TYPE_CAMERA
        )
}

fn autopilot_kind(autopilot: MavAutopilot) -> AutopilotKind {
    match autopilot {
        MavAutopilot::MAV_AUTOPILOT_PX4 => AutopilotKind::Px4,
        MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA => AutopilotKind::ArduPilot,
        _ => AutopilotKind::Generic,
    }
}
