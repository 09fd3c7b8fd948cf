//! Uploading plans with the MAVLink mission protocol: the mission
//! (MAV_MISSION_TYPE_MISSION), the geofence (FENCE) and rally points (RALLY).
//!
//! The mapping from domain items to MISSION_ITEM_INT is pure and tested
//! field by field; the transfer follows the protocol's rules: 1500 ms
//! timeouts, at most 5 retries, send whichever item the vehicle asks for
//! (out of order is fine), any error ACK ends the upload.
//!
//! ArduPilot keeps the home position as mission item 0, so its missions get
//! a home item in front and every contract item moves up by one; fence and
//! rally plans have no such item on either autopilot.

use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavCmd, MavFrame, MavMessage, MavMissionResult, MavMissionType, MISSION_ACK_DATA,
    MISSION_COUNT_DATA, MISSION_ITEM_INT_DATA,
};
use wire::{FencePlan, FenceZone, MissionItem, RallyPlan};

use crate::autopilot::{next_from, Autopilot};
use crate::flight_mode::AutopilotKind;
use crate::vehicle_state::AutopilotTarget;

pub const MISSION_TIMEOUT: Duration = Duration::from_millis(1500);
pub const MISSION_MAX_RETRIES: u32 = 5;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("mission item {index} is invalid: {reason}")]
    InvalidItem { index: usize, reason: String },
    #[error("mission has {0} items; MAVLink allows at most 65535")]
    TooLong(usize),
    #[error("autopilot has not been heard yet")]
    NoAutopilot,
    #[error("plan upload needs the PX4 or ArduPilot profile; this autopilot is {0}")]
    UnsupportedAutopilot(&'static str),
    #[error("{what} {index} is invalid: {reason}")]
    InvalidPlan {
        what: &'static str,
        index: usize,
        reason: String,
    },
    #[error("autopilot rejected the mission: {0:?}")]
    Rejected(MavMissionResult),
    #[error("autopilot asked for item {requested} of a {count}-item mission")]
    BadRequest { requested: u16, count: u16 },
    #[error("no answer from the autopilot after {retries} retries ({waiting_for})")]
    TimedOut {
        retries: u32,
        waiting_for: &'static str,
    },
    #[error("MAVLink link failed: {0}")]
    Link(String),
}

/// Where a takeoff item starts: PX4 wants the takeoff point's lat/lon in
/// the item, as QGroundControl writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeoffPoint {
    pub lat_deg: f64,
    pub lon_deg: f64,
}

/// Checks what the autopilot cannot check for us, before anything is sent.
pub fn validate(items: &[MissionItem]) -> Result<(), UploadError> {
    if items.len() > usize::from(u16::MAX) {
        return Err(UploadError::TooLong(items.len()));
    }
    for (index, item) in items.iter().enumerate() {
        let invalid = |reason: String| UploadError::InvalidItem { index, reason };
        let check_position = |lat_deg: f64, lon_deg: f64| {
            if !(lat_deg.is_finite() && (-90.0..=90.0).contains(&lat_deg)) {
                return Err(invalid(format!("latitude {lat_deg} is outside -90..90")));
            }
            if !(lon_deg.is_finite() && (-180.0..=180.0).contains(&lon_deg)) {
                return Err(invalid(format!("longitude {lon_deg} is outside -180..180")));
            }
            Ok(())
        };
        let check_finite = |name: &str, value: f32| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(invalid(format!("{name} must be a number, got {value}")))
            }
        };
        match *item {
            MissionItem::Takeoff { alt_rel_m } => {
                check_finite("alt_rel_m", alt_rel_m)?;
                if alt_rel_m <= 0.0 {
                    return Err(invalid(format!(
                        "takeoff altitude {alt_rel_m} m must be above 0"
                    )));
                }
            }
            MissionItem::Waypoint {
                lat_deg,
                lon_deg,
                alt_rel_m,
                hold_s,
            } => {
                check_position(lat_deg, lon_deg)?;
                check_finite("alt_rel_m", alt_rel_m)?;
                check_finite("hold_s", hold_s)?;
                if hold_s < 0.0 {
                    return Err(invalid(format!("hold_s {hold_s} must not be negative")));
                }
            }
            MissionItem::ChangeSpeed { speed_mps } => {
                check_finite("speed_mps", speed_mps)?;
                if speed_mps <= 0.0 {
                    return Err(invalid(format!("speed {speed_mps} m/s must be above 0")));
                }
            }
            MissionItem::LookAt {
                lat_deg,
                lon_deg,
                alt_rel_m,
            } => {
                check_position(lat_deg, lon_deg)?;
                check_finite("alt_rel_m", alt_rel_m)?;
            }
            MissionItem::Land { lat_deg, lon_deg } => check_position(lat_deg, lon_deg)?,
            MissionItem::CaptureImage | MissionItem::ReturnToLaunch => {}
        }
    }
    Ok(())
}

fn deg_to_e7(deg: f64) -> i32 {
    (deg * 1e7).round() as i32
}

/// The MISSION_ITEM_INT for one contract item (PX4: item 0 is the first
/// item, altitudes relative to home).
pub fn mission_item_int(
    seq: u16,
    item: &MissionItem,
    target: &AutopilotTarget,
    takeoff_point: Option<TakeoffPoint>,
) -> MISSION_ITEM_INT_DATA {
    // (command, frame, params 1-4, x, y, z)
    let (command, frame, params, x, y, z) = match *item {
        MissionItem::Takeoff { alt_rel_m } => {
            let (x, y) = takeoff_point.map_or((0, 0), |point| {
                (deg_to_e7(point.lat_deg), deg_to_e7(point.lon_deg))
            });
            (
                MavCmd::MAV_CMD_NAV_TAKEOFF,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                // p1 pitch (fixed-wing only), p4 yaw NaN = keep heading.
                [0.0, 0.0, 0.0, f32::NAN],
                x,
                y,
                alt_rel_m,
            )
        }
        MissionItem::Waypoint {
            lat_deg,
            lon_deg,
            alt_rel_m,
            hold_s,
        } => (
            MavCmd::MAV_CMD_NAV_WAYPOINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            // p2 acceptance radius 0 = autopilot default; p4 yaw NaN = default heading.
            [hold_s, 0.0, 0.0, f32::NAN],
            deg_to_e7(lat_deg),
            deg_to_e7(lon_deg),
            alt_rel_m,
        ),
        MissionItem::ChangeSpeed { speed_mps } => (
            MavCmd::MAV_CMD_DO_CHANGE_SPEED,
            MavFrame::MAV_FRAME_MISSION,
            // p1 1 = ground speed; p3 throttle -1 = no change.
            [1.0, speed_mps, -1.0, 0.0],
            0,
            0,
            0.0,
        ),
        MissionItem::LookAt {
            lat_deg,
            lon_deg,
            alt_rel_m,
        } => (
            MavCmd::MAV_CMD_DO_SET_ROI_LOCATION,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            // p1 gimbal device 0 = all gimbals.
            [0.0, 0.0, 0.0, 0.0],
            deg_to_e7(lat_deg),
            deg_to_e7(lon_deg),
            alt_rel_m,
        ),
        MissionItem::CaptureImage => (
            MavCmd::MAV_CMD_IMAGE_START_CAPTURE,
            MavFrame::MAV_FRAME_MISSION,
            // p1 camera 0 = all, p2 interval 0, p3 one image, p4 sequence 0.
            [0.0, 0.0, 1.0, 0.0],
            0,
            0,
            0.0,
        ),
        MissionItem::ReturnToLaunch => (
            MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
            MavFrame::MAV_FRAME_MISSION,
            [0.0, 0.0, 0.0, 0.0],
            0,
            0,
            0.0,
        ),
        MissionItem::Land { lat_deg, lon_deg } => (
            MavCmd::MAV_CMD_NAV_LAND,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            // p1 abort alt 0 = default, p2 precision land off, p4 yaw NaN.
            [0.0, 0.0, 0.0, f32::NAN],
            deg_to_e7(lat_deg),
            deg_to_e7(lon_deg),
            0.0,
        ),
    };
    MISSION_ITEM_INT_DATA {
        param1: params[0],
        param2: params[1],
        param3: params[2],
        param4: params[3],
        x,
        y,
        z,
        seq,
        command,
        target_system: target.system_id,
        target_component: target.component_id,
        frame,
        current: 0,
        autocontinue: 1,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

/// A plan ready to transfer: its MAVLink type and its items, numbered from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mission_type: MavMissionType,
    pub items: Vec<MISSION_ITEM_INT_DATA>,
}

/// Where ArduPilot's home item 0 points: the vehicle's position when known
/// (ArduPilot replaces it with its own home on upload, so its content only
/// matters to tools that read the file back).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HomePoint {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
}

/// The mission as `kind` wants it: PX4 numbers items from 0; ArduPilot
/// gets its home at 0 and the contract items from 1.
pub fn mission_plan(
    kind: AutopilotKind,
    target: &AutopilotTarget,
    items: &[MissionItem],
    takeoff_point: Option<TakeoffPoint>,
    home: Option<HomePoint>,
) -> Plan {
    let offset = mission_seq_offset(kind);
    let mut plan = Vec::with_capacity(items.len() + usize::from(offset));
    if offset == 1 {
        let home = home.unwrap_or(HomePoint {
            lat_deg: 0.0,
            lon_deg: 0.0,
            alt_msl_m: 0.0,
        });
        plan.push(plan_item(
            target,
            0,
            MavMissionType::MAV_MISSION_TYPE_MISSION,
            MavCmd::MAV_CMD_NAV_WAYPOINT,
            MavFrame::MAV_FRAME_GLOBAL,
            [0.0; 4],
            (
                deg_to_e7(home.lat_deg),
                deg_to_e7(home.lon_deg),
                home.alt_msl_m as f32,
            ),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        // validate() caps the mission at 65535 items including the offset.
        let seq = index as u16 + offset;
        plan.push(mission_item_int(seq, item, target, takeoff_point));
    }
    Plan {
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        items: plan,
    }
}

/// How far the autopilot's mission numbering is ahead of the contract's
/// (1 on ArduPilot, whose item 0 is home).
pub fn mission_seq_offset(kind: AutopilotKind) -> u16 {
    match kind {
        AutopilotKind::ArduPilot => 1,
        AutopilotKind::Px4 | AutopilotKind::Generic => 0,
    }
}

fn plan_item(
    target: &AutopilotTarget,
    seq: u16,
    mission_type: MavMissionType,
    command: MavCmd,
    frame: MavFrame,
    params: [f32; 4],
    (x, y, z): (i32, i32, f32),
) -> MISSION_ITEM_INT_DATA {
    MISSION_ITEM_INT_DATA {
        param1: params[0],
        param2: params[1],
        param3: params[2],
        param4: params[3],
        x,
        y,
        z,
        seq,
        command,
        target_system: target.system_id,
        target_component: target.component_id,
        frame,
        current: 0,
        autocontinue: 1,
        mission_type,
    }
}

fn check_position(
    what: &'static str,
    index: usize,
    lat_deg: f64,
    lon_deg: f64,
) -> Result<(), UploadError> {
    let invalid = |reason: String| UploadError::InvalidPlan {
        what,
        index,
        reason,
    };
    if !(lat_deg.is_finite() && (-90.0..=90.0).contains(&lat_deg)) {
        return Err(invalid(format!("latitude {lat_deg} is outside -90..90")));
    }
    if !(lon_deg.is_finite() && (-180.0..=180.0).contains(&lon_deg)) {
        return Err(invalid(format!("longitude {lon_deg} is outside -180..180")));
    }
    Ok(())
}

/// The geofence as MAVLink fence items: one item per polygon vertex (each
/// carrying the polygon's vertex count in p1) and one per circle (radius in
/// p1). Inclusion areas all belong to group 0 (p2).
pub fn fence_plan(target: &AutopilotTarget, fence: &FencePlan) -> Result<Plan, UploadError> {
    let fence_type = MavMissionType::MAV_MISSION_TYPE_FENCE;
    let mut items = Vec::new();
    for (index, zone) in fence.zones.iter().enumerate() {
        let invalid = |reason: String| UploadError::InvalidPlan {
            what: "fence zone",
            index,
            reason,
        };
        match zone {
            FenceZone::InclusionPolygon { vertices } | FenceZone::ExclusionPolygon { vertices } => {
                if vertices.len() < 3 {
                    return Err(invalid(format!(
                        "a polygon needs at least 3 vertices, got {}",
                        vertices.len()
                    )));
                }
                let command = if matches!(zone, FenceZone::InclusionPolygon { .. }) {
                    MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                } else {
                    MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
                };
                for vertex in vertices {
                    check_position("fence zone", index, vertex.lat_deg, vertex.lon_deg)?;
                    items.push((
                        command,
                        [vertices.len() as f32, 0.0, 0.0, 0.0],
                        (deg_to_e7(vertex.lat_deg), deg_to_e7(vertex.lon_deg)),
                    ));
                }
            }
            FenceZone::InclusionCircle {
                lat_deg,
                lon_deg,
                radius_m,
            }
            | FenceZone::ExclusionCircle {
                lat_deg,
                lon_deg,
                radius_m,
            } => {
                check_position("fence zone", index, *lat_deg, *lon_deg)?;
                if !(radius_m.is_finite() && *radius_m > 0.0) {
                    return Err(invalid(format!("radius {radius_m} m must be above 0")));
                }
                let command = if matches!(zone, FenceZone::InclusionCircle { .. }) {
                    MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
                } else {
                    MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
                };
                items.push((
                    command,
                    [*radius_m, 0.0, 0.0, 0.0],
                    (deg_to_e7(*lat_deg), deg_to_e7(*lon_deg)),
                ));
            }
        }
    }
    if items.len() > usize::from(u16::MAX) {
        return Err(UploadError::TooLong(items.len()));
    }
    Ok(Plan {
        mission_type: fence_type,
        items: items
            .into_iter()
            .enumerate()
            .map(|(seq, (command, params, (x, y)))| {
                // Fence items carry no altitude; frame GLOBAL as QGC writes them.
                plan_item(
                    target,
                    seq as u16,
                    fence_type,
                    command,
                    MavFrame::MAV_FRAME_GLOBAL,
                    params,
                    (x, y, 0.0),
                )
            })
            .collect(),
    })
}

/// Rally points as NAV_RALLY_POINT items, altitude relative to home.
pub fn rally_plan(target: &AutopilotTarget, rally: &RallyPlan) -> Result<Plan, UploadError> {
    if rally.points.len() > usize::from(u16::MAX) {
        return Err(UploadError::TooLong(rally.points.len()));
    }
    let rally_type = MavMissionType::MAV_MISSION_TYPE_RALLY;
    let mut items = Vec::with_capacity(rally.points.len());
    for (index, point) in rally.points.iter().enumerate() {
        check_position("rally point", index, point.lat_deg, point.lon_deg)?;
        if !point.alt_rel_m.is_finite() {
            return Err(UploadError::InvalidPlan {
                what: "rally point",
                index,
                reason: format!("alt_rel_m must be a number, got {}", point.alt_rel_m),
            });
        }
        items.push(plan_item(
            target,
            index as u16,
            rally_type,
            MavCmd::MAV_CMD_NAV_RALLY_POINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            [0.0; 4],
            (
                deg_to_e7(point.lat_deg),
                deg_to_e7(point.lon_deg),
                point.alt_rel_m,
            ),
        ));
    }
    Ok(Plan {
        mission_type: rally_type,
        items,
    })
}

fn profiled_target(autopilot: &Autopilot) -> Result<AutopilotTarget, UploadError> {
    let target = autopilot.target().ok_or(UploadError::NoAutopilot)?;
    if target.kind == AutopilotKind::Generic {
        return Err(UploadError::UnsupportedAutopilot(target.kind.name()));
    }
    Ok(target)
}

/// Uploads `items`, replacing the vehicle's mission. Returns once the
/// autopilot ACKs the whole plan.
pub async fn upload_mission(
    autopilot: &Autopilot,
    items: &[MissionItem],
) -> Result<(), UploadError> {
    validate(items)?;
    let target = profiled_target(autopilot)?;
    if items.len() + usize::from(mission_seq_offset(target.kind)) > usize::from(u16::MAX) {
        return Err(UploadError::TooLong(items.len()));
    }
    let position = autopilot.state().position;
    let takeoff_point = position.map(|fix| TakeoffPoint {
        lat_deg: fix.lat_deg,
        lon_deg: fix.lon_deg,
    });
    let home = position.map(|fix| HomePoint {
        lat_deg: fix.lat_deg,
        lon_deg: fix.lon_deg,
        alt_msl_m: fix.alt_msl_m,
    });
    let plan = mission_plan(target.kind, &target, items, takeoff_point, home);
    transfer(autopilot, &target, &plan).await
}

/// Replaces the vehicle's geofence; returns the number of items sent.
pub async fn upload_fence(autopilot: &Autopilot, fence: &FencePlan) -> Result<usize, UploadError> {
    let target = profiled_target(autopilot)?;
    let plan = fence_plan(&target, fence)?;
    transfer(autopilot, &target, &plan).await?;
    Ok(plan.items.len())
}

/// Replaces the vehicle's rally points; returns the number sent.
pub async fn upload_rally(autopilot: &Autopilot, rally: &RallyPlan) -> Result<usize, UploadError> {
    let target = profiled_target(autopilot)?;
    let plan = rally_plan(&target, rally)?;
    transfer(autopilot, &target, &plan).await?;
    Ok(plan.items.len())
}

/// The mission protocol's upload: MISSION_COUNT, then each item the vehicle
/// asks for, until its MISSION_ACK.
// MISSION_REQUEST is deprecated, but answering it is what the protocol asks.
#[allow(deprecated)]
pub async fn transfer(
    autopilot: &Autopilot,
    target: &AutopilotTarget,
    plan: &Plan,
) -> Result<(), UploadError> {
    let target = *target;
    let mission_type = plan.mission_type;
    let items = &plan.items;
    let count = items.len() as u16; // plans are capped at 65535 items
    let mut frames = autopilot.frames();
    let count_message = MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
        count,
        target_system: target.system_id,
        target_component: target.component_id,
        mission_type,
        opaque_id: 0,
    });
    let send = |message: MavMessage| async move {
        autopilot
            .send(&message)
            .await
            .map_err(|error| UploadError::Link(error.to_string()))
    };
    send(count_message.clone()).await?;
    // What to resend on timeout: the count until the first request, then the
    // last item sent (its request may have crossed our item on the link).
    let mut last_sent = count_message;
    let mut waiting_for = "first item request";
    let mut retries = 0;
    loop {
        let answer = tokio::time::timeout(MISSION_TIMEOUT, next_from(&mut frames, &target)).await;
        let frame = match answer {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(UploadError::Link("MAVLink feed closed".into())),
            Err(_elapsed) => {
                retries += 1;
                if retries > MISSION_MAX_RETRIES {
                    return Err(UploadError::TimedOut {
                        retries: MISSION_MAX_RETRIES,
                        waiting_for,
                    });
                }
                tracing::debug!(retries, waiting_for, "mission transfer timeout, resending");
                send(last_sent.clone()).await?;
                continue;
            }
        };
        let requested = match &frame.1 {
            MavMessage::MISSION_REQUEST_INT(request) if request.mission_type == mission_type => {
                request.seq
            }
            // Deprecated, but older firmware still asks this way; the answer
            // is MISSION_ITEM_INT all the same.
            MavMessage::MISSION_REQUEST(request) if request.mission_type == mission_type => {
                request.seq
            }
            MavMessage::MISSION_ACK(ack) if ack.mission_type == mission_type => {
                return match ack.mavtype {
                    MavMissionResult::MAV_MISSION_ACCEPTED => Ok(()),
                    other => Err(UploadError::Rejected(other)),
                };
            }
            _ => continue,
        };
        let Some(item) = items.get(usize::from(requested)) else {
            // Cancel the transfer so the vehicle does not wait for us.
            let cancel = MavMessage::MISSION_ACK(MISSION_ACK_DATA {
                target_system: target.system_id,
                target_component: target.component_id,
                mavtype: MavMissionResult::MAV_MISSION_INVALID_SEQUENCE,
                mission_type,
                opaque_id: 0,
            });
            send(cancel).await?;
            return Err(UploadError::BadRequest { requested, count });
        };
        retries = 0;
        waiting_for = if usize::from(requested) + 1 == items.len() {
            "plan ACK"
        } else {
            "next item request"
        };
        last_sent = MavMessage::MISSION_ITEM_INT(item.clone());
        send(last_sent.clone()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: AutopilotTarget = AutopilotTarget {
        system_id: 1,
        component_id: 1,
        kind: AutopilotKind::Px4,
    };

    /// (command, frame, p1, p2, p3, x, y, z) of the MAVLink item.
    fn fields(item: MissionItem) -> (MavCmd, MavFrame, f32, f32, f32, i32, i32, f32) {
        let m = mission_item_int(3, &item, &TARGET, None);
        assert_eq!(m.seq, 3);
        assert_eq!((m.target_system, m.target_component), (1, 1));
        assert_eq!((m.current, m.autocontinue), (0, 1));
        assert_eq!(m.mission_type, MavMissionType::MAV_MISSION_TYPE_MISSION);
        (
            m.command, m.frame, m.param1, m.param2, m.param3, m.x, m.y, m.z,
        )
    }

    #[test]
    fn each_contract_item_maps_to_its_px4_mission_item() {
        use MavCmd::*;
        use MavFrame::*;
        let nav = MAV_FRAME_GLOBAL_RELATIVE_ALT;
        let none = MAV_FRAME_MISSION;
        assert_eq!(
            fields(MissionItem::Takeoff { alt_rel_m: 30.0 }),
            (MAV_CMD_NAV_TAKEOFF, nav, 0.0, 0.0, 0.0, 0, 0, 30.0)
        );
        assert_eq!(
            fields(MissionItem::Waypoint {
                lat_deg: 30.505,
                lon_deg: 114.398,
                alt_rel_m: 40.0,
                hold_s: 2.0
            }),
            (
                MAV_CMD_NAV_WAYPOINT,
                nav,
                2.0,
                0.0,
                0.0,
                305_050_000,
                1_143_980_000,
                40.0
            )
        );
        assert_eq!(
            fields(MissionItem::ChangeSpeed { speed_mps: 8.0 }),
            (MAV_CMD_DO_CHANGE_SPEED, none, 1.0, 8.0, -1.0, 0, 0, 0.0)
        );
        assert_eq!(
            fields(MissionItem::LookAt {
                lat_deg: -30.5,
                lon_deg: -114.25,
                alt_rel_m: 0.0
            }),
            (
                MAV_CMD_DO_SET_ROI_LOCATION,
                nav,
                0.0,
                0.0,
                0.0,
                -305_000_000,
                -1_142_500_000,
                0.0
            )
        );
        assert_eq!(
            fields(MissionItem::CaptureImage),
            (MAV_CMD_IMAGE_START_CAPTURE, none, 0.0, 0.0, 1.0, 0, 0, 0.0)
        );
        assert_eq!(
            fields(MissionItem::ReturnToLaunch),
            (MAV_CMD_NAV_RETURN_TO_LAUNCH, none, 0.0, 0.0, 0.0, 0, 0, 0.0)
        );
        assert_eq!(
            fields(MissionItem::Land {
                lat_deg: 30.5,
                lon_deg: 114.4
            }),
            (
                MAV_CMD_NAV_LAND,
                nav,
                0.0,
                0.0,
                0.0,
                305_000_000,
                1_144_000_000,
                0.0
            )
        );
    }

    #[test]
    fn takeoff_carries_the_takeoff_point_and_no_yaw() {
        let point = TakeoffPoint {
            lat_deg: 30.505,
            lon_deg: 114.398,
        };
        let m = mission_item_int(
            0,
            &MissionItem::Takeoff { alt_rel_m: 30.0 },
            &TARGET,
            Some(point),
        );
        assert_eq!((m.x, m.y), (305_050_000, 1_143_980_000));
        assert!(m.param4.is_nan());
    }

    #[test]
    fn validation_names_the_bad_item_before_anything_is_sent() {
        let items = [
            MissionItem::Takeoff { alt_rel_m: 30.0 },
            MissionItem::Waypoint {
                lat_deg: 95.0,
                lon_deg: 114.0,
                alt_rel_m: 30.0,
                hold_s: 0.0,
            },
        ];
        let error = validate(&items).unwrap_err();
        assert_eq!(
            error,
            UploadError::InvalidItem {
                index: 1,
                reason: "latitude 95 is outside -90..90".into()
            }
        );
        assert!(validate(&[MissionItem::Takeoff {
            alt_rel_m: f32::NAN
        }])
        .is_err());
        assert!(validate(&[MissionItem::ChangeSpeed { speed_mps: 0.0 }]).is_err());
        assert!(validate(&items[..1]).is_ok());
    }

    #[test]
    fn ardupilot_missions_get_home_at_item_0_and_shifted_items() {
        let items = [
            MissionItem::Takeoff { alt_rel_m: 30.0 },
            MissionItem::ReturnToLaunch,
        ];
        let home = HomePoint {
            lat_deg: 30.505,
            lon_deg: 114.398,
            alt_msl_m: 20.0,
        };
        let ardupilot = AutopilotTarget {
            kind: AutopilotKind::ArduPilot,
            ..TARGET
        };
        let plan = mission_plan(
            AutopilotKind::ArduPilot,
            &ardupilot,
            &items,
            None,
            Some(home),
        );
        let summary: Vec<(u16, MavCmd)> = plan.items.iter().map(|i| (i.seq, i.command)).collect();
        assert_eq!(
            summary,
            [
                (0, MavCmd::MAV_CMD_NAV_WAYPOINT),
                (1, MavCmd::MAV_CMD_NAV_TAKEOFF),
                (2, MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH)
            ]
        );
        assert_eq!(
            (plan.items[0].x, plan.items[0].y),
            (305_050_000, 1_143_980_000)
        );
        assert_eq!(plan.items[0].frame, MavFrame::MAV_FRAME_GLOBAL);

        let px4 = mission_plan(AutopilotKind::Px4, &TARGET, &items, None, Some(home));
        let seqs: Vec<u16> = px4.items.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, [0, 1], "PX4 has no home item");
    }

    #[test]
    fn fence_zones_become_vertex_and_circle_items() {
        use wire::LatLon;
        let square = vec![
            LatLon {
                lat_deg: 30.50,
                lon_deg: 114.39,
            },
            LatLon {
                lat_deg: 30.51,
                lon_deg: 114.39,
            },
            LatLon {
                lat_deg: 30.51,
                lon_deg: 114.40,
            },
            LatLon {
                lat_deg: 30.50,
                lon_deg: 114.40,
            },
        ];
        let fence = FencePlan {
            zones: vec![
                FenceZone::InclusionPolygon { vertices: square },
                FenceZone::ExclusionCircle {
                    lat_deg: 30.505,
                    lon_deg: 114.395,
                    radius_m: 25.0,
                },
            ],
        };
        let plan = fence_plan(&TARGET, &fence).unwrap();
        assert_eq!(plan.mission_type, MavMissionType::MAV_MISSION_TYPE_FENCE);
        assert_eq!(plan.items.len(), 5);
        for (seq, item) in plan.items[..4].iter().enumerate() {
            assert_eq!(item.seq as usize, seq);
            assert_eq!(
                item.command,
                MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            );
            assert_eq!(item.param1, 4.0, "vertex count");
            assert_eq!(item.mission_type, MavMissionType::MAV_MISSION_TYPE_FENCE);
        }
        let circle = &plan.items[4];
        assert_eq!(circle.command, MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION);
        assert_eq!((circle.param1, circle.x), (25.0, 305_050_000));
    }

    #[test]
    fn bad_fences_and_rally_points_are_refused_by_index() {
        use wire::{LatLon, RallyPoint};
        let two_points = FencePlan {
            zones: vec![FenceZone::ExclusionPolygon {
                vertices: vec![
                    LatLon {
                        lat_deg: 1.0,
                        lon_deg: 1.0
                    };
                    2
                ],
            }],
        };
        let error = fence_plan(&TARGET, &two_points).unwrap_err().to_string();
        assert!(
            error.contains("fence zone 0") && error.contains("3 vertices"),
            "{error}"
        );
        let no_radius = FencePlan {
            zones: vec![FenceZone::InclusionCircle {
                lat_deg: 1.0,
                lon_deg: 1.0,
                radius_m: 0.0,
            }],
        };
        assert!(fence_plan(&TARGET, &no_radius).is_err());
        let rally = RallyPlan {
            points: vec![
                RallyPoint {
                    lat_deg: 30.5,
                    lon_deg: 114.4,
                    alt_rel_m: 20.0,
                },
                RallyPoint {
                    lat_deg: 30.5,
                    lon_deg: 214.4,
                    alt_rel_m: 20.0,
                },
            ],
        };
        let error = rally_plan(&TARGET, &rally).unwrap_err().to_string();
        assert!(
            error.contains("rally point 1") && error.contains("214.4"),
            "{error}"
        );
        let good = RallyPlan {
            points: rally.points[..1].to_vec(),
        };
        let plan = rally_plan(&TARGET, &good).unwrap();
        assert_eq!(plan.items[0].command, MavCmd::MAV_CMD_NAV_RALLY_POINT);
        assert_eq!(plan.items[0].frame, MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT);
        assert_eq!(plan.items[0].z, 20.0);
    }
}
