//! The MAVLink command protocol (COMMAND_LONG / COMMAND_INT) mapped onto the
//! vehicle, answering each with the MAV_RESULT PX4 would give.

use std::time::Instant;

use mavlink::dialects::ardupilotmega::{
    MavCmd, MavFrame, MavResult, COMMAND_INT_DATA, COMMAND_LONG_DATA,
};

use crate::geo::{e7_to_deg, LocalPoint};
use crate::mission::AltitudeReference;
use crate::modes::{FlightMode, ModeLookup};
use crate::profile::AutopilotProfile;
use crate::telemetry::{self, StreamSchedule};
use crate::vehicle::{Refusal, Vehicle, FORCE_ARM_DISARM_MAGIC};

/// A command with COMMAND_LONG and COMMAND_INT differences ironed out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandRequest {
    pub command: MavCmd,
    pub param1: f32,
    pub param2: f32,
    pub param3: f32,
    pub param4: f32,
    /// Latitude/longitude in degrees, when the command carries a position.
    pub position_deg: Option<(f64, f64)>,
    /// param7 / z; NaN = not given.
    pub altitude_m: f32,
    /// How `altitude_m` is meant; `None` for a COMMAND_INT frame we do not support.
    pub altitude_reference: Option<AltitudeReference>,
    pub target_system: u8,
    pub target_component: u8,
}

impl CommandRequest {
    pub fn from_long(data: &COMMAND_LONG_DATA) -> Self {
        // PX4 reads COMMAND_LONG positions as degrees in param5/6 and AMSL in param7.
        let position_deg = (data.param5.is_finite()
            && data.param6.is_finite()
            && !(data.param5 == 0.0 && data.param6 == 0.0))
            .then(|| (f64::from(data.param5), f64::from(data.param6)));
        CommandRequest {
            command: data.command,
            param1: data.param1,
            param2: data.param2,
            param3: data.param3,
            param4: data.param4,
            position_deg,
            altitude_m: data.param7,
            altitude_reference: Some(AltitudeReference::MeanSeaLevel),
            target_system: data.target_system,
            target_component: data.target_component,
        }
    }

    // The *_INT frames are superseded synonyms, but ground stations still send them.
    #[allow(deprecated)]
    pub fn from_int(data: &COMMAND_INT_DATA) -> Self {
        // INT32_MAX marks x/y as unset; 0/0 is "no position" in practice.
        let position_deg =
            (data.x != i32::MAX && data.y != i32::MAX && !(data.x == 0 && data.y == 0))
                .then(|| (e7_to_deg(data.x), e7_to_deg(data.y)));
        let altitude_reference = match data.frame {
            MavFrame::MAV_FRAME_GLOBAL | MavFrame::MAV_FRAME_GLOBAL_INT => {
                Some(AltitudeReference::MeanSeaLevel)
            }
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT
            | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT_INT => Some(AltitudeReference::AboveHome),
            MavFrame::MAV_FRAME_MISSION => Some(AltitudeReference::NoPosition),
            _ => None,
        };
        CommandRequest {
            command: data.command,
            param1: data.param1,
            param2: data.param2,
            param3: data.param3,
            param4: data.param4,
            position_deg,
            altitude_m: data.z,
            altitude_reference,
            target_system: data.target_system,
            target_component: data.target_component,
        }
    }

    /// Height above home that the command's altitude means, if it gives one.
    fn altitude_above_home_m(&self, vehicle: &Vehicle) -> Option<f64> {
        if !self.altitude_m.is_finite() {
            return None;
        }
        let altitude_m = f64::from(self.altitude_m);
        match self.altitude_reference? {
            AltitudeReference::MeanSeaLevel => Some(altitude_m - vehicle.home().alt_msl_m),
            AltitudeReference::AboveHome => Some(altitude_m),
            AltitudeReference::NoPosition => None,
        }
    }

    fn target(&self, vehicle: &Vehicle) -> Option<LocalPoint> {
        let up_m = self.altitude_above_home_m(vehicle);
        match (self.position_deg, up_m) {
            (Some((lat_deg, lon_deg)), up_m) => Some(vehicle.local_target(
                lat_deg,
                lon_deg,
                up_m.unwrap_or(f64::NAN),
                AltitudeReference::AboveHome,
            )),
            (None, Some(up_m)) => Some(vehicle.local_position().at_height(up_m)),
            (None, None) => None,
        }
    }
}

/// The answer to a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandOutcome {
    pub result: MavResult,
    /// MAV_CMD_REQUEST_MESSAGE: the message to send after the ACK.
    pub requested_message_id: Option<u32>,
}

impl CommandOutcome {
    fn result(result: MavResult) -> Self {
        CommandOutcome {
            result,
            requested_message_id: None,
        }
    }
}

impl From<Result<(), Refusal>> for CommandOutcome {
    fn from(outcome: Result<(), Refusal>) -> Self {
        CommandOutcome::result(match outcome {
            Ok(()) => MavResult::MAV_RESULT_ACCEPTED,
            Err(Refusal::TemporarilyRejected(reason)) => {
                tracing::debug!(reason, "command temporarily rejected");
                MavResult::MAV_RESULT_TEMPORARILY_REJECTED
            }
            Err(Refusal::Denied(reason)) => {
                tracing::debug!(reason, "command denied");
                MavResult::MAV_RESULT_DENIED
            }
            Err(Refusal::Failed(reason)) => {
                tracing::debug!(reason, "command failed");
                MavResult::MAV_RESULT_FAILED
            }
        })
    }
}

/// Carry out `request` on `vehicle`.
// REQUEST_AUTOPILOT_CAPABILITIES and GET_HOME_POSITION are superseded by
// REQUEST_MESSAGE but still sent by older ground stations.
#[allow(deprecated)]
pub fn execute(
    vehicle: &mut Vehicle,
    streams: &mut StreamSchedule,
    request: &CommandRequest,
    now: Instant,
) -> CommandOutcome {
    use MavResult::*;
    let accepted = CommandOutcome::result(MAV_RESULT_ACCEPTED);
    match request.command {
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM => {
            let force = request.param2 == FORCE_ARM_DISARM_MAGIC;
            if request.param1 == 1.0 {
                vehicle.arm(force).into()
            } else if request.param1 == 0.0 {
                vehicle.disarm(force).into()
            } else {
                CommandOutcome::result(MAV_RESULT_DENIED)
            }
        }
        MavCmd::MAV_CMD_NAV_TAKEOFF => match vehicle.profile() {
            AutopilotProfile::Px4 => vehicle
                .takeoff(request.altitude_above_home_m(vehicle))
                .into(),
            // ArduCopter reads param7 as metres above home.
            AutopilotProfile::ArduPilot => {
                vehicle.guided_takeoff(f64::from(request.altitude_m)).into()
            }
        },
        MavCmd::MAV_CMD_DO_SET_MODE if vehicle.profile() == AutopilotProfile::ArduPilot => {
            // ArduPilot reads param2 as the mode number and answers FAILED.
            match FlightMode::from_ardupilot(request.param2 as u32) {
                ModeLookup::Known(mode) => match vehicle.set_mode(mode) {
                    Ok(()) => accepted,
                    Err(_) => CommandOutcome::result(MAV_RESULT_FAILED),
                },
                ModeLookup::NotSimulated | ModeLookup::Unknown => {
                    CommandOutcome::result(MAV_RESULT_FAILED)
                }
            }
        }
        MavCmd::MAV_CMD_DO_SET_MODE => {
            // PX4 needs CUSTOM_MODE_ENABLED and reads main/sub modes as uint8.
            if (request.param1 as u32) & 1 == 0 {
                return CommandOutcome::result(MAV_RESULT_DENIED);
            }
            match FlightMode::from_px4(request.param2 as u8, request.param3 as u8) {
                ModeLookup::Known(mode) => vehicle.set_mode(mode).into(),
                ModeLookup::NotSimulated => CommandOutcome::result(MAV_RESULT_DENIED),
                ModeLookup::Unknown => CommandOutcome::result(MAV_RESULT_UNSUPPORTED),
            }
        }
        MavCmd::MAV_CMD_MISSION_START => {
            let first_seq = if request.param1.is_finite() && request.param1 >= 0.0 {
                request.param1 as u16
            } else {
                0
            };
            vehicle.start_mission(first_seq).into()
        }
        MavCmd::MAV_CMD_DO_SET_MISSION_CURRENT => {
            if request.param1 < 0.0 || !request.param1.is_finite() {
                return accepted;
            }
            vehicle.set_current_item(request.param1 as u16).into()
        }
        MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH => vehicle.set_mode(FlightMode::ReturnToLaunch).into(),
        MavCmd::MAV_CMD_NAV_LAND => vehicle.set_mode(FlightMode::Land).into(),
        MavCmd::MAV_CMD_DO_REPOSITION => {
            // Current PX4 only acts when exactly MAV_DO_REPOSITION_FLAGS_CHANGE_MODE is set.
            if request.param2 != 1.0 {
                return CommandOutcome::result(MAV_RESULT_UNSUPPORTED);
            }
            if request.altitude_reference.is_none() {
                return CommandOutcome::result(MAV_RESULT_COMMAND_UNSUPPORTED_MAV_FRAME);
            }
            let speed_mps = (request.param1 > 0.0).then_some(f64::from(request.param1));
            vehicle
                .reposition(request.target(vehicle), speed_mps)
                .into()
        }
        // ArduCopter pauses and resumes AUTO with it; PX4 has no handler.
        MavCmd::MAV_CMD_DO_PAUSE_CONTINUE => match vehicle.profile() {
            AutopilotProfile::ArduPilot => {
                if request.param1 == 0.0 || request.param1 == 1.0 {
                    vehicle.pause_continue(request.param1 == 0.0).into()
                } else {
                    CommandOutcome::result(MAV_RESULT_DENIED)
                }
            }
            AutopilotProfile::Px4 => CommandOutcome::result(MAV_RESULT_UNSUPPORTED),
        },
        MavCmd::MAV_CMD_DO_CHANGE_SPEED => {
            vehicle.change_speed(request.param1 as u8, f64::from(request.param2));
            accepted
        }
        MavCmd::MAV_CMD_DO_SET_ROI_LOCATION => match request.target(vehicle) {
            Some(roi) if request.position_deg.is_some() => {
                vehicle.set_region_of_interest(Some(roi));
                accepted
            }
            _ => CommandOutcome::result(MAV_RESULT_DENIED),
        },
        MavCmd::MAV_CMD_DO_SET_ROI_NONE => {
            vehicle.set_region_of_interest(None);
            accepted
        }
        MavCmd::MAV_CMD_IMAGE_START_CAPTURE => {
            vehicle.start_capture(f64::from(request.param2), request.param3.max(0.0) as u32);
            accepted
        }
        MavCmd::MAV_CMD_IMAGE_STOP_CAPTURE => {
            vehicle.stop_capture();
            accepted
        }
        MavCmd::MAV_CMD_DO_SET_CAM_TRIGG_DIST => {
            vehicle.set_trigger_distance(f64::from(request.param1), request.param3 >= 1.0);
            accepted
        }
        // Older ground stations ask with these instead of REQUEST_MESSAGE.
        MavCmd::MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES => CommandOutcome {
            result: MAV_RESULT_ACCEPTED,
            requested_message_id: Some(telemetry::AUTOPILOT_VERSION_ID),
        },
        MavCmd::MAV_CMD_GET_HOME_POSITION => CommandOutcome {
            result: MAV_RESULT_ACCEPTED,
            requested_message_id: Some(telemetry::HOME_POSITION_ID),
        },
        MavCmd::MAV_CMD_REQUEST_MESSAGE => {
            let message_id = request.param1 as u32;
            if request.param1 >= 0.0 && telemetry::message_for(vehicle, message_id).is_some() {
                CommandOutcome {
                    result: MAV_RESULT_ACCEPTED,
                    requested_message_id: Some(message_id),
                }
            } else {
                CommandOutcome::result(MAV_RESULT_DENIED)
            }
        }
        MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL => {
            if request.param1 >= 0.0
                && streams.set_interval(request.param1 as u32, request.param2, now)
            {
                accepted
            } else {
                CommandOutcome::result(MAV_RESULT_DENIED)
            }
        }
        other => {
            tracing::debug!(command = ?other, "unsupported command");
            CommandOutcome::result(MAV_RESULT_UNSUPPORTED)
        }
    }
}
