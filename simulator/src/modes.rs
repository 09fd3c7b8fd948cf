//! PX4 flight modes and their MAVLink encoding.
//!
//! PX4 packs a main mode and an AUTO sub mode into HEARTBEAT.custom_mode as
//! `sub << 24 | main << 16` (px4_custom_mode.h), and DO_SET_MODE carries them
//! separately in param2 (main) and param3 (sub).

/// PX4 main mode AUTO; all modes this simulator flies are AUTO sub modes.
pub const PX4_MAIN_MODE_AUTO: u8 = 4;

/// The flight modes the simulated multirotor can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightMode {
    /// AUTO.TAKEOFF: climb to the takeoff altitude, then hold.
    Takeoff,
    /// AUTO.LOITER ("Hold"): hold position; the boot mode.
    Hold,
    /// AUTO.MISSION: execute the uploaded mission.
    Mission,
    /// AUTO.RTL: climb, fly home, land.
    ReturnToLaunch,
    /// AUTO.LAND: land where we are.
    Land,
    /// ArduCopter GUIDED: hold, fly to commanded points, take off on command.
    Guided,
    /// ArduCopter BRAKE: stop and hold.
    Brake,
}

/// Why a requested PX4 mode cannot be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeLookup {
    Known(FlightMode),
    /// A real PX4 mode (manual, position, offboard, ...) that needs a pilot or
    /// an offboard setpoint stream this simulator does not model.
    NotSimulated,
    /// Not a PX4 mode at all.
    Unknown,
}

impl FlightMode {
    /// Modes that hold position unless told to fly somewhere.
    pub fn is_holding(self) -> bool {
        matches!(
            self,
            FlightMode::Hold | FlightMode::Guided | FlightMode::Brake
        )
    }

    /// ArduCopter mode number (HEARTBEAT.custom_mode, DO_SET_MODE param2).
    pub fn ardupilot_number(self) -> u32 {
        match self {
            FlightMode::Mission => 3,
            // ArduCopter takes off in GUIDED.
            FlightMode::Guided | FlightMode::Takeoff => 4,
            FlightMode::Hold => 5,
            FlightMode::ReturnToLaunch => 6,
            FlightMode::Land => 9,
            FlightMode::Brake => 17,
        }
    }

    /// Interpret an ArduCopter mode number.
    pub fn from_ardupilot(number: u32) -> ModeLookup {
        match number {
            3 => ModeLookup::Known(FlightMode::Mission),
            4 => ModeLookup::Known(FlightMode::Guided),
            5 => ModeLookup::Known(FlightMode::Hold),
            6 => ModeLookup::Known(FlightMode::ReturnToLaunch),
            9 => ModeLookup::Known(FlightMode::Land),
            17 => ModeLookup::Known(FlightMode::Brake),
            // STABILIZE, ACRO, ALT_HOLD, CIRCLE, DRIFT, SPORT, FLIP, AUTOTUNE,
            // POSHOLD, THROW, ..., SMART_RTL, FLOWHOLD, FOLLOW, ZIGZAG, ... AUTO_RTL, TURTLE.
            0..=2 | 7 | 8 | 11 | 13..=16 | 18..=28 => ModeLookup::NotSimulated,
            _ => ModeLookup::Unknown,
        }
    }

    /// PX4 AUTO sub mode number.
    pub fn px4_sub_mode(self) -> u8 {
        match self {
            FlightMode::Takeoff => 2,
            // PX4 has no GUIDED or BRAKE; both are its Hold.
            FlightMode::Hold | FlightMode::Guided | FlightMode::Brake => 3,
            FlightMode::Mission => 4,
            FlightMode::ReturnToLaunch => 5,
            FlightMode::Land => 6,
        }
    }

    /// HEARTBEAT.custom_mode as PX4 reports it.
    pub fn px4_custom_mode(self) -> u32 {
        (u32::from(self.px4_sub_mode()) << 24) | (u32::from(PX4_MAIN_MODE_AUTO) << 16)
    }

    /// Interpret DO_SET_MODE param2 (main) and param3 (sub) the way PX4 does.
    pub fn from_px4(main_mode: u8, sub_mode: u8) -> ModeLookup {
        match (main_mode, sub_mode) {
            (PX4_MAIN_MODE_AUTO, 2) => ModeLookup::Known(FlightMode::Takeoff),
            (PX4_MAIN_MODE_AUTO, 3) => ModeLookup::Known(FlightMode::Hold),
            (PX4_MAIN_MODE_AUTO, 4) => ModeLookup::Known(FlightMode::Mission),
            (PX4_MAIN_MODE_AUTO, 5) => ModeLookup::Known(FlightMode::ReturnToLaunch),
            (PX4_MAIN_MODE_AUTO, 6) => ModeLookup::Known(FlightMode::Land),
            // AUTO.READY, FOLLOW_TARGET, PRECLAND, VTOL_TAKEOFF, EXTERNAL1-8.
            (PX4_MAIN_MODE_AUTO, 1 | 7..=18) => ModeLookup::NotSimulated,
            // MANUAL, ALTCTL, POSCTL, ACRO, OFFBOARD, STABILIZED, RATTITUDE, TERMINATION.
            (1..=3 | 5..=10, _) => ModeLookup::NotSimulated,
            _ => ModeLookup::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FlightMode::Takeoff => "AUTO.TAKEOFF",
            FlightMode::Hold => "AUTO.LOITER",
            FlightMode::Mission => "AUTO.MISSION",
            FlightMode::ReturnToLaunch => "AUTO.RTL",
            FlightMode::Land => "AUTO.LAND",
            FlightMode::Guided => "GUIDED",
            FlightMode::Brake => "BRAKE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_mode_matches_px4_packing() {
        assert_eq!(FlightMode::Mission.px4_custom_mode(), 67_371_008);
        assert_eq!(FlightMode::Hold.px4_custom_mode(), 50_593_792);
        assert_eq!(FlightMode::ReturnToLaunch.px4_custom_mode(), 84_148_224);
        assert_eq!(FlightMode::Land.px4_custom_mode(), 0x0604_0000);
        assert_eq!(FlightMode::Takeoff.px4_custom_mode(), 0x0204_0000);
    }

    #[test]
    fn set_mode_parameters_round_trip() {
        for mode in [
            FlightMode::Takeoff,
            FlightMode::Hold,
            FlightMode::Mission,
            FlightMode::ReturnToLaunch,
            FlightMode::Land,
        ] {
            assert_eq!(
                FlightMode::from_px4(PX4_MAIN_MODE_AUTO, mode.px4_sub_mode()),
                ModeLookup::Known(mode)
            );
        }
        assert_eq!(FlightMode::from_px4(3, 0), ModeLookup::NotSimulated);
        assert_eq!(FlightMode::from_px4(42, 0), ModeLookup::Unknown);
        assert_eq!(FlightMode::from_px4(4, 99), ModeLookup::Unknown);
    }

    #[test]
    fn arducopter_mode_numbers_round_trip() {
        for mode in [
            FlightMode::Mission,
            FlightMode::Guided,
            FlightMode::Hold,
            FlightMode::ReturnToLaunch,
            FlightMode::Land,
            FlightMode::Brake,
        ] {
            assert_eq!(
                FlightMode::from_ardupilot(mode.ardupilot_number()),
                ModeLookup::Known(mode)
            );
        }
        assert_eq!(FlightMode::from_ardupilot(0), ModeLookup::NotSimulated);
        assert_eq!(FlightMode::from_ardupilot(99), ModeLookup::Unknown);
    }
}
