//! How each flight command is carried out on each autopilot: a recipe of
//! MAVLink steps, worked out without any IO so every autopilot's way of
//! doing things is unit-tested here and only executed in [`crate::commands`].
//!
//! PX4 (as QGroundControl drives it): DO_SET_MODE with main and sub mode in
//! params 2 and 3, confirmed from HEARTBEAT because PX4 can ACK a change it
//! does not make; pause = DO_REPOSITION with only the change-mode flag.
//!
//! ArduCopter: DO_SET_MODE with the mode number in param 2; a mission is
//! started from GUIDED with MAV_CMD_MISSION_START once armed (ArduCopter
//! does not arm in AUTO by default); pause = BRAKE mode, resume = AUTO, which
//! carries on from the current item.

use mavlink::dialects::ardupilotmega::{MavCmd, MavFrame, MavModeFlag};
use wire::Reposition;

use crate::flight_mode::{AutopilotKind, Px4Mode};

/// ArduCopter mode numbers (ArduCopter/mode.h).
pub mod arducopter {
    pub const AUTO: u32 = 3;
    pub const GUIDED: u32 = 4;
    pub const RTL: u32 = 6;
    pub const LAND: u32 = 9;
    pub const BRAKE: u32 = 17;
}

/// The flight commands that are MAVLink commands plus mode checks (uploads
/// and the telemetry rate are handled elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    StartMission,
    Pause,
    Resume,
    ReturnToLaunch,
    Land,
    Arm,
    Disarm,
    ChangeSpeed { speed_mps: f32 },
    Reposition(Reposition),
}

impl Action {
    /// The contract mode the vehicle ends up in, for actions that change it.
    pub fn resulting_mode(&self) -> Option<wire::FlightMode> {
        use wire::FlightMode;
        match self {
            Action::StartMission | Action::Resume => Some(FlightMode::Mission),
            Action::Pause => Some(FlightMode::Hold),
            Action::ReturnToLaunch => Some(FlightMode::Return),
            Action::Land => Some(FlightMode::Land),
            Action::Reposition(_) => None, // Hold on PX4, Guided on ArduCopter
            Action::Arm | Action::Disarm | Action::ChangeSpeed { .. } => None,
        }
    }
}

/// The mode HEARTBEAT must report for a step to count as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedMode {
    Px4(Px4Mode),
    ArduPilot(u32),
}

impl ExpectedMode {
    pub fn matches(self, custom_mode: u32) -> bool {
        match self {
            ExpectedMode::Px4(mode) => mode.matches(custom_mode),
            ExpectedMode::ArduPilot(number) => custom_mode == number,
        }
    }

    pub fn name(self) -> String {
        match self {
            ExpectedMode::Px4(mode) => mode.name(),
            ExpectedMode::ArduPilot(number) => format!("ArduPilot mode {number}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// COMMAND_LONG, resent until ACKed.
    Long { command: MavCmd, params: [f32; 7] },
    /// COMMAND_INT, for commands that carry a position (degE7, no f32
    /// rounding of latitude and longitude).
    Int {
        command: MavCmd,
        frame: MavFrame,
        params: [f32; 4],
        lat_e7: i32,
        lon_e7: i32,
        alt_m: f32,
    },
    /// COMPONENT_ARM_DISARM p1=1, unless HEARTBEAT already shows armed.
    EnsureArmed,
    /// Wait for a HEARTBEAT, newer than the recipe's start, in this mode.
    ConfirmMode(ExpectedMode),
}

const ARM: [f32; 7] = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
const DISARM: [f32; 7] = [0.0; 7];

/// The steps for `action` on `kind`, or why this autopilot cannot do it.
pub fn recipe(kind: AutopilotKind, action: &Action) -> Result<Vec<Step>, String> {
    match kind {
        AutopilotKind::Px4 => Ok(px4(action)),
        AutopilotKind::ArduPilot => Ok(arducopter(action)),
        AutopilotKind::Generic => generic(action),
    }
}

fn long(command: MavCmd, params: [f32; 7]) -> Step {
    Step::Long { command, params }
}

/// Arming is the same command on every autopilot (never forced: p2 stays 0
/// so the autopilot's own checks apply, and it refuses to disarm in flight).
fn arm(armed: bool) -> Vec<Step> {
    vec![long(
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        if armed { ARM } else { DISARM },
    )]
}

/// DO_CHANGE_SPEED: p1 1 = ground speed, p3 -1 = throttle unchanged.
fn change_speed(speed_mps: f32) -> Vec<Step> {
    vec![long(
        MavCmd::MAV_CMD_DO_CHANGE_SPEED,
        [1.0, speed_mps, -1.0, 0.0, 0.0, 0.0, 0.0],
    )]
}

fn deg_e7(deg: f64) -> i32 {
    (deg * 1e7).round() as i32
}

/// DO_REPOSITION to a point, switching mode (p2 bit 0, CHANGE_MODE) so the
/// vehicle flies there now; p1 -1 = default speed, p4 NaN = keep yaw.
fn reposition_to(target: &Reposition) -> Step {
    Step::Int {
        command: MavCmd::MAV_CMD_DO_REPOSITION,
        frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
        params: [-1.0, 1.0, 0.0, f32::NAN],
        lat_e7: deg_e7(target.lat_deg),
        lon_e7: deg_e7(target.lon_deg),
        alt_m: target.alt_rel_m,
    }
}

/// DO_SET_MODE parameters for PX4: p1 CUSTOM_MODE_ENABLED, p2 main mode,
/// p3 sub mode (PX4 reads them as separate bytes; a packed word in p2 is
/// truncated to 0 and may still be ACKed).
pub fn px4_set_mode_params(mode: Px4Mode) -> [f32; 7] {
    [
        f32::from(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED.bits()),
        f32::from(mode.main_mode),
        f32::from(mode.sub_mode),
        0.0,
        0.0,
        0.0,
        0.0,
    ]
}

/// DO_SET_MODE parameters for ArduPilot: p2 is the plain mode number.
pub fn arducopter_set_mode_params(mode: u32) -> [f32; 7] {
    [
        f32::from(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED.bits()),
        mode as f32,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ]
}

fn px4_mode(mode: Px4Mode) -> Vec<Step> {
    vec![
        long(MavCmd::MAV_CMD_DO_SET_MODE, px4_set_mode_params(mode)),
        Step::ConfirmMode(ExpectedMode::Px4(mode)),
    ]
}

fn px4(action: &Action) -> Vec<Step> {
    match action {
        Action::StartMission => {
            let mut steps = vec![Step::EnsureArmed];
            steps.extend(px4_mode(Px4Mode::MISSION));
            steps
        }
        Action::Pause => vec![
            // Only the change-mode flag and NaN position: hold right here.
            long(
                MavCmd::MAV_CMD_DO_REPOSITION,
                [-1.0, 1.0, 0.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN],
            ),
            Step::ConfirmMode(ExpectedMode::Px4(Px4Mode::HOLD)),
        ],
        Action::Resume => px4_mode(Px4Mode::MISSION),
        Action::ReturnToLaunch => px4_mode(Px4Mode::RETURN),
        Action::Land => px4_mode(Px4Mode::LAND),
        // PX4 flies a reposition in AUTO.LOITER (Hold).
        Action::Reposition(target) => vec![
            reposition_to(target),
            Step::ConfirmMode(ExpectedMode::Px4(Px4Mode::HOLD)),
        ],
        Action::Arm => arm(true),
        Action::Disarm => arm(false),
        Action::ChangeSpeed { speed_mps } => change_speed(*speed_mps),
    }
}

fn arducopter_mode(mode: u32) -> Vec<Step> {
    vec![
        long(
            MavCmd::MAV_CMD_DO_SET_MODE,
            arducopter_set_mode_params(mode),
        ),
        Step::ConfirmMode(ExpectedMode::ArduPilot(mode)),
    ]
}

fn arducopter(action: &Action) -> Vec<Step> {
    match action {
        Action::StartMission => {
            let mut steps = arducopter_mode(arducopter::GUIDED);
            steps.push(Step::EnsureArmed);
            // Switches an armed copter to AUTO and starts from item 1.
            steps.push(long(MavCmd::MAV_CMD_MISSION_START, [0.0; 7]));
            steps.push(Step::ConfirmMode(ExpectedMode::ArduPilot(arducopter::AUTO)));
            steps
        }
        Action::Pause => arducopter_mode(arducopter::BRAKE),
        Action::Resume => arducopter_mode(arducopter::AUTO),
        Action::ReturnToLaunch => arducopter_mode(arducopter::RTL),
        Action::Land => arducopter_mode(arducopter::LAND),
        // ArduCopter takes DO_REPOSITION in GUIDED; the change-mode flag
        // switches it there.
        Action::Reposition(target) => vec![
            reposition_to(target),
            Step::ConfirmMode(ExpectedMode::ArduPilot(arducopter::GUIDED)),
        ],
        Action::Arm => arm(true),
        Action::Disarm => arm(false),
        Action::ChangeSpeed { speed_mps } => change_speed(*speed_mps),
    }
}

/// An autopilot of unknown make: only the mode-independent NAV commands.
fn generic(action: &Action) -> Result<Vec<Step>, String> {
    match action {
        Action::ReturnToLaunch => Ok(vec![long(MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH, [0.0; 7])]),
        // NaN yaw and position: land where it is.
        Action::Land => Ok(vec![long(
            MavCmd::MAV_CMD_NAV_LAND,
            [0.0, 0.0, 0.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN],
        )]),
        Action::Arm => Ok(arm(true)),
        Action::Disarm => Ok(arm(false)),
        Action::ChangeSpeed { speed_mps } => Ok(change_speed(*speed_mps)),
        other => Err(format!(
            "{other:?} needs the PX4 or ArduPilot profile; this autopilot reports itself as generic"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_modes(steps: &[Step]) -> Vec<(f32, f32)> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Long {
                    command: MavCmd::MAV_CMD_DO_SET_MODE,
                    params,
                } => Some((params[1], params[2])),
                _ => None,
            })
            .collect()
    }

    fn confirms(steps: &[Step]) -> Vec<ExpectedMode> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::ConfirmMode(mode) => Some(*mode),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn px4_set_mode_carries_main_and_sub_separately() {
        assert_eq!(
            px4_set_mode_params(Px4Mode::MISSION),
            [1.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0]
        );
        let rtl = recipe(AutopilotKind::Px4, &Action::ReturnToLaunch).unwrap();
        assert_eq!(set_modes(&rtl), [(4.0, 5.0)]);
        assert_eq!(confirms(&rtl), [ExpectedMode::Px4(Px4Mode::RETURN)]);
        let land = recipe(AutopilotKind::Px4, &Action::Land).unwrap();
        assert_eq!(set_modes(&land), [(4.0, 6.0)]);
    }

    #[test]
    fn every_px4_mode_change_is_confirmed_from_heartbeat() {
        for action in [
            Action::StartMission,
            Action::Pause,
            Action::Resume,
            Action::ReturnToLaunch,
            Action::Land,
        ] {
            let steps = recipe(AutopilotKind::Px4, &action).unwrap();
            assert!(
                matches!(steps.last(), Some(Step::ConfirmMode(ExpectedMode::Px4(_)))),
                "{action:?}: {steps:?}"
            );
        }
    }

    #[test]
    fn px4_arms_before_switching_to_mission() {
        let steps = recipe(AutopilotKind::Px4, &Action::StartMission).unwrap();
        assert_eq!(steps[0], Step::EnsureArmed);
        assert_eq!(set_modes(&steps), [(4.0, 4.0)]);
    }

    #[test]
    fn px4_pauses_with_reposition_holding_here() {
        let steps = recipe(AutopilotKind::Px4, &Action::Pause).unwrap();
        let Step::Long { command, params } = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(*command, MavCmd::MAV_CMD_DO_REPOSITION);
        assert_eq!(params[1], 1.0, "change-mode flag only");
        assert!(params[4].is_nan() && params[5].is_nan(), "hold where it is");
    }

    #[test]
    fn arducopter_takes_the_mode_number_in_param_2() {
        let rtl = recipe(AutopilotKind::ArduPilot, &Action::ReturnToLaunch).unwrap();
        assert_eq!(set_modes(&rtl), [(6.0, 0.0)]);
        assert_eq!(confirms(&rtl), [ExpectedMode::ArduPilot(6)]);
        assert_eq!(
            set_modes(&recipe(AutopilotKind::ArduPilot, &Action::Land).unwrap()),
            [(9.0, 0.0)]
        );
    }

    #[test]
    fn arducopter_pauses_in_brake_and_resumes_in_auto() {
        let pause = recipe(AutopilotKind::ArduPilot, &Action::Pause).unwrap();
        assert_eq!(
            confirms(&pause),
            [ExpectedMode::ArduPilot(arducopter::BRAKE)]
        );
        let resume = recipe(AutopilotKind::ArduPilot, &Action::Resume).unwrap();
        assert_eq!(
            confirms(&resume),
            [ExpectedMode::ArduPilot(arducopter::AUTO)]
        );
    }

    #[test]
    fn arducopter_starts_a_mission_from_guided_with_mission_start() {
        let steps = recipe(AutopilotKind::ArduPilot, &Action::StartMission).unwrap();
        let commands: Vec<MavCmd> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Long { command, .. } => Some(*command),
                _ => None,
            })
            .collect();
        assert_eq!(
            commands,
            [MavCmd::MAV_CMD_DO_SET_MODE, MavCmd::MAV_CMD_MISSION_START]
        );
        // GUIDED first, then arm (unless armed), then start.
        assert_eq!(steps[2], Step::EnsureArmed, "{steps:?}");
        assert_eq!(set_modes(&steps), [(arducopter::GUIDED as f32, 0.0)]);
        assert_eq!(
            confirms(&steps),
            [
                ExpectedMode::ArduPilot(arducopter::GUIDED),
                ExpectedMode::ArduPilot(arducopter::AUTO)
            ]
        );
    }

    #[test]
    fn reposition_carries_the_point_in_deg_e7_on_both_autopilots() {
        let target = Reposition {
            lat_deg: 30.5055123,
            lon_deg: 114.3986456,
            alt_rel_m: 25.0,
        };
        for (kind, mode) in [
            (AutopilotKind::Px4, ExpectedMode::Px4(Px4Mode::HOLD)),
            (
                AutopilotKind::ArduPilot,
                ExpectedMode::ArduPilot(arducopter::GUIDED),
            ),
        ] {
            let steps = recipe(kind, &Action::Reposition(target.clone())).unwrap();
            let Step::Int {
                command,
                frame,
                lat_e7,
                lon_e7,
                alt_m,
                params,
            } = &steps[0]
            else {
                panic!("{steps:?}")
            };
            assert_eq!(*command, MavCmd::MAV_CMD_DO_REPOSITION);
            assert_eq!(*frame, MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT);
            assert_eq!(
                (*lat_e7, *lon_e7, *alt_m),
                (305_055_123, 1_143_986_456, 25.0)
            );
            assert_eq!(params[1], 1.0);
            assert_eq!(confirms(&steps), [mode]);
        }
    }

    #[test]
    fn arm_disarm_and_speed_are_plain_commands_everywhere() {
        for kind in [
            AutopilotKind::Px4,
            AutopilotKind::ArduPilot,
            AutopilotKind::Generic,
        ] {
            assert_eq!(
                recipe(kind, &Action::Disarm).unwrap(),
                [long(MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [0.0; 7])]
            );
            let speed = recipe(kind, &Action::ChangeSpeed { speed_mps: 6.5 }).unwrap();
            assert_eq!(
                speed,
                [long(
                    MavCmd::MAV_CMD_DO_CHANGE_SPEED,
                    [1.0, 6.5, -1.0, 0.0, 0.0, 0.0, 0.0]
                )]
            );
        }
    }

    #[test]
    fn a_generic_autopilot_gets_only_nav_commands() {
        assert!(recipe(AutopilotKind::Generic, &Action::ReturnToLaunch).is_ok());
        assert!(recipe(AutopilotKind::Generic, &Action::Land).is_ok());
        let refused = recipe(AutopilotKind::Generic, &Action::Pause).unwrap_err();
        assert!(refused.contains("generic"), "{refused}");
    }
}
