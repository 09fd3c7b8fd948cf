//! `…/commands` (dispatcher -> bridge) and `…/replies` (bridge -> dispatcher),
//! both QoS 1.
//!
//! Every command has an `id`. The bridge answers with replies carrying that
//! id: `accepted`, then optionally `in_progress`, then exactly one terminal
//! state (`succeeded`, `failed`, `timed_out`). A command whose id the bridge
//! has already seen is not carried out again; the bridge repeats its last
//! reply for it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// No deny_unknown_fields: serde does not support it together with flatten.
pub struct Command {
    pub v: u32,
    pub id: String,
    pub ts_ms: i64,
    #[serde(flatten)]
    pub body: CommandBody,
}
crate::payload!(Command, "command");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum CommandBody {
    /// Replace the vehicle's mission. Succeeds when the autopilot ACKs the
    /// whole upload.
    UploadMission(Mission),
    /// Arm and start the uploaded mission from its first item.
    StartMission,
    /// Hold position; the mission can be resumed.
    Pause,
    /// Continue the mission from where it was paused.
    Resume,
    ReturnToLaunch,
    Land,
    /// Arm the motors (on the ground, before a manual or guided flight).
    Arm,
    /// Disarm. Refused by the autopilot in flight; never forced.
    Disarm,
    /// Ground speed from now on, in whatever mode the vehicle is flying.
    ChangeSpeed {
        speed_mps: f32,
    },
    /// Fly to a point and hold there (leaves the mission; `resume` returns
    /// to it).
    Reposition(Reposition),
    /// Replace the vehicle's geofence (MAVLink fence plan).
    UploadFence(FencePlan),
    /// Replace the vehicle's rally (safe landing) points.
    UploadRally(RallyPlan),
    /// Publish telemetry at `hz` for `for_s` seconds (e.g. while a pilot
    /// watches), then fall back to the bridge's configured rate.
    SetTelemetryRate {
        hz: f64,
        for_s: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reposition {
    pub lat_deg: f64,
    pub lon_deg: f64,
    /// Above home.
    pub alt_rel_m: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    pub lat_deg: f64,
    pub lon_deg: f64,
}

/// Geofence: areas the vehicle must stay inside of, and areas it must keep
/// out of. What the vehicle does on a breach is its own configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FencePlan {
    pub zones: Vec<FenceZone>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FenceZone {
    /// Stay inside this polygon (3 or more vertices, not closed).
    InclusionPolygon { vertices: Vec<LatLon> },
    /// Keep out of this polygon.
    ExclusionPolygon { vertices: Vec<LatLon> },
    InclusionCircle {
        lat_deg: f64,
        lon_deg: f64,
        radius_m: f32,
    },
    ExclusionCircle {
        lat_deg: f64,
        lon_deg: f64,
        radius_m: f32,
    },
}

/// Rally points: where the vehicle may return to instead of home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RallyPlan {
    pub points: Vec<RallyPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RallyPoint {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_rel_m: f32,
}

impl CommandBody {
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::UploadMission(_) => "upload_mission",
            CommandBody::StartMission => "start_mission",
            CommandBody::Pause => "pause",
            CommandBody::Resume => "resume",
            CommandBody::ReturnToLaunch => "return_to_launch",
            CommandBody::Land => "land",
            CommandBody::Arm => "arm",
            CommandBody::Disarm => "disarm",
            CommandBody::ChangeSpeed { .. } => "change_speed",
            CommandBody::Reposition(_) => "reposition",
            CommandBody::UploadFence(_) => "upload_fence",
            CommandBody::UploadRally(_) => "upload_rally",
            CommandBody::SetTelemetryRate { .. } => "set_telemetry_rate",
        }
    }
}

/// A mission in domain terms. Altitudes are relative to the take-off point
/// (the dock), which is what both PX4 and ArduPilot fly by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mission {
    pub items: Vec<MissionItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MissionItem {
    /// Climb vertically above the current position.
    Takeoff { alt_rel_m: f32 },
    /// Fly to a point; hold there `hold_s` seconds.
    Waypoint {
        lat_deg: f64,
        lon_deg: f64,
        alt_rel_m: f32,
        hold_s: f32,
    },
    /// Set cruise speed from here on.
    ChangeSpeed { speed_mps: f32 },
    /// Point the camera at a location (region of interest) until reset.
    LookAt {
        lat_deg: f64,
        lon_deg: f64,
        alt_rel_m: f32,
    },
    /// Take one photo now.
    CaptureImage,
    /// Fly home and land there.
    ReturnToLaunch,
    /// Land at a point.
    Land { lat_deg: f64, lon_deg: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    Accepted,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
}

impl CommandState {
    /// After a terminal state no further reply follows for that command.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CommandState::Succeeded | CommandState::Failed | CommandState::TimedOut
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandReply {
    pub v: u32,
    /// The id of the command this answers.
    pub request_id: String,
    pub drone: String,
    pub ts_ms: i64,
    pub state: CommandState,
    /// Human-readable detail: why it failed, or what is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
crate::payload!(CommandReply, "command reply");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode};

    #[test]
    fn upload_mission_command_round_trips_as_json() {
        let cmd = Command {
            v: 1,
            id: "c-1".into(),
            ts_ms: 5,
            body: CommandBody::UploadMission(Mission {
                items: vec![
                    MissionItem::Takeoff { alt_rel_m: 60.0 },
                    MissionItem::Waypoint {
                        lat_deg: 30.5,
                        lon_deg: 114.4,
                        alt_rel_m: 60.0,
                        hold_s: 2.0,
                    },
                    MissionItem::CaptureImage,
                    MissionItem::ReturnToLaunch,
                ],
            }),
        };
        let bytes = encode(&cmd);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains(r#""kind":"upload_mission""#), "{text}");
        assert_eq!(decode::<Command>(&bytes).unwrap(), cmd);
    }

    #[test]
    fn unknown_command_kind_is_refused_with_its_name() {
        let err = decode::<Command>(br#"{"v":1,"id":"x","ts_ms":0,"kind":"self_destruct"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("self_destruct"), "{err}");
    }

    #[test]
    fn fence_and_rally_commands_read_from_documented_json() {
        let fence = decode::<Command>(
            br#"{"v":1,"id":"f","ts_ms":0,"kind":"upload_fence","body":{"zones":[
                {"type":"inclusion_polygon","vertices":[{"lat_deg":1.0,"lon_deg":2.0},{"lat_deg":1.1,"lon_deg":2.0},{"lat_deg":1.1,"lon_deg":2.1}]},
                {"type":"exclusion_circle","lat_deg":1.05,"lon_deg":2.05,"radius_m":20.0}]}}"#,
        )
        .unwrap();
        let CommandBody::UploadFence(plan) = fence.body else {
            panic!("not a fence: {fence:?}")
        };
        assert_eq!(plan.zones.len(), 2);
        let rate = decode::<Command>(
            br#"{"v":1,"id":"r","ts_ms":0,"kind":"set_telemetry_rate","body":{"hz":10.0,"for_s":60}}"#,
        )
        .unwrap();
        assert_eq!(
            rate.body,
            CommandBody::SetTelemetryRate {
                hz: 10.0,
                for_s: 60
            }
        );
        let error = decode::<Command>(
            br#"{"v":1,"id":"x","ts_ms":0,"kind":"upload_rally","body":{"points":[{"lat_deg":1.0,"lon_deg":2.0}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("alt_rel_m"), "{error}");
    }

    #[test]
    fn only_final_states_are_terminal() {
        assert!(!CommandState::Accepted.is_terminal());
        assert!(!CommandState::InProgress.is_terminal());
        assert!(CommandState::Succeeded.is_terminal());
        assert!(CommandState::Failed.is_terminal());
        assert!(CommandState::TimedOut.is_terminal());
    }
}
