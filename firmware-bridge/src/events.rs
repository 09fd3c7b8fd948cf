//! Turning changes in vehicle state and notable MAVLink messages into
//! contract events (mission progress, images, status text, mode and arming
//! changes, landing, autopilot link loss).
//!
//! Pure: the detector sees the state before and after each message (or each
//! link check) and returns the events that follow, so its rules are tested
//! with scripted sequences.

use std::collections::VecDeque;

use mavlink::dialects::ardupilotmega::{MavBool, MavMessage};
use wire::event::ImageCaptured;
use wire::{EventBody, LandedState};

use crate::vehicle_state::VehicleState;

/// Without EXTENDED_SYS_STATE, armed and this high above home counts as flown.
const FLOWN_WITHOUT_LANDED_STATE_ALT_M: f64 = 1.0;
/// Cameras may resend CAMERA_IMAGE_CAPTURED; remember this many indices.
const REMEMBERED_IMAGE_INDICES: usize = 256;

#[derive(Debug, Default)]
pub struct EventDetector {
    has_flown: bool,
    last_item_reached: Option<u16>,
    recent_image_indices: VecDeque<i32>,
}

impl EventDetector {
    pub fn new() -> Self {
        EventDetector::default()
    }

    /// `mission_total_hint` is the size of the mission this bridge uploaded,
    /// used when the autopilot does not report MISSION_CURRENT.total.
    pub fn observe(
        &mut self,
        before: &VehicleState,
        after: &VehicleState,
        message: Option<&MavMessage>,
        mission_total_hint: Option<u16>,
    ) -> Vec<EventBody> {
        let mut events = Vec::new();
        self.link_changes(before, after, &mut events);
        // The first HEARTBEAT sets mode and armed; it is not a change.
        if before.heartbeats_seen > 0 {
            if before.mode != after.mode {
                events.push(EventBody::ModeChanged { mode: after.mode });
            }
            if before.armed != after.armed {
                events.push(EventBody::ArmedChanged { armed: after.armed });
            }
        }
        if let Some(message) = message {
            self.message_events(after, message, mission_total_hint, &mut events);
        }
        self.landing(after, &mut events);
        events
    }

    fn link_changes(
        &self,
        before: &VehicleState,
        after: &VehicleState,
        events: &mut Vec<EventBody>,
    ) {
        if before.link_up && !after.link_up {
            events.push(EventBody::AutopilotLinkLost);
        }
        // Only a return after a loss is "regained"; first contact is not.
        if before.heartbeats_seen > 0 && !before.link_up && after.link_up {
            events.push(EventBody::AutopilotLinkRegained);
        }
    }

    fn message_events(
        &mut self,
        after: &VehicleState,
        message: &MavMessage,
        mission_total_hint: Option<u16>,
        events: &mut Vec<EventBody>,
    ) {
        match message {
            // A restart (or a new mission) moves the current item back.
            MavMessage::MISSION_CURRENT(current)
                if self.last_item_reached.is_some_and(|seq| current.seq < seq) =>
            {
                self.last_item_reached = None;
            }
            MavMessage::MISSION_ITEM_REACHED(reached) => {
                if self.last_item_reached == Some(reached.seq) {
                    return; // repeated report of the same item
                }
                self.last_item_reached = Some(reached.seq);
                let total = after.mission_total.or(mission_total_hint).unwrap_or(0);
                events.push(EventBody::MissionItemReached {
                    seq: reached.seq,
                    total,
                });
                if total > 0 && reached.seq + 1 == total {
                    events.push(EventBody::MissionCompleted { total });
                }
            }
            MavMessage::CAMERA_IMAGE_CAPTURED(captured) => {
                if !captured.capture_result.contains(MavBool::MAV_BOOL_TRUE) {
                    tracing::warn!(
                        index = captured.image_index,
                        "camera reports a failed capture"
                    );
                    return;
                }
                if self.recent_image_indices.contains(&captured.image_index) {
                    return;
                }
                if self.recent_image_indices.len() == REMEMBERED_IMAGE_INDICES {
                    self.recent_image_indices.pop_front();
                }
                self.recent_image_indices.push_back(captured.image_index);
                let file_url = nul_terminated(&captured.file_url[..]);
                events.push(EventBody::ImageCaptured(ImageCaptured {
                    index: captured.image_index,
                    time_utc_us: (captured.time_utc != 0).then_some(captured.time_utc),
                    lat_deg: f64::from(captured.lat) * 1e-7,
                    lon_deg: f64::from(captured.lon) * 1e-7,
                    alt_msl_m: f64::from(captured.alt) / 1000.0,
                    alt_rel_m: f64::from(captured.relative_alt) / 1000.0,
                    q: captured.q,
                    file_url: (!file_url.is_empty()).then_some(file_url),
                }));
            }
            MavMessage::STATUSTEXT(status) => {
                // Chunked texts (id != 0) arrive as one event per chunk;
                // reassembly comes with the ArduPilot profile.
                let text = nul_terminated(&status.text[..]);
                if !text.is_empty() {
                    events.push(EventBody::StatusText {
                        severity: status.severity as u8,
                        text,
                    });
                }
            }
            _ => {}
        }
    }

    fn landing(&mut self, after: &VehicleState, events: &mut Vec<EventBody>) {
        let flying = after.in_air()
            || (after.landed == LandedState::Unknown
                && after.armed
                && after
                    .position
                    .is_some_and(|fix| fix.alt_rel_m > FLOWN_WITHOUT_LANDED_STATE_ALT_M));
        if flying {
            self.has_flown = true;
            return;
        }
        let on_ground = matches!(after.landed, LandedState::OnGround | LandedState::Unknown);
        if self.has_flown && on_ground && !after.armed {
            self.has_flown = false;
            // The contract needs a position (JSON has no NaN); a vehicle
            // that flew without ever reporting one cannot say where it is.
            match after.position {
                Some(fix) => events.push(EventBody::Landed {
                    lat_deg: fix.lat_deg,
                    lon_deg: fix.lon_deg,
                }),
                None => {
                    tracing::warn!("vehicle landed but never reported a position; no landed event")
                }
            }
        }
    }
}

fn nul_terminated(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use mavlink::dialects::ardupilotmega::*;
    use mavlink::MavHeader;
    use wire::FlightMode;

    use super::*;
    use crate::flight_mode::Px4Mode;

    fn autopilot_header() -> MavHeader {
        MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: 0,
        }
    }

    fn heartbeat(mode: Px4Mode, armed: bool) -> MavMessage {
        let mut base_mode = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED;
        if armed {
            base_mode |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
        }
        MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: mode.custom_mode(),
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
            base_mode,
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        })
    }

    fn landed_state(state: MavLandedState) -> MavMessage {
        MavMessage::EXTENDED_SYS_STATE(EXTENDED_SYS_STATE_DATA {
            vtol_state: MavVtolState::MAV_VTOL_STATE_UNDEFINED,
            landed_state: state,
        })
    }

    fn item_reached(seq: u16) -> MavMessage {
        MavMessage::MISSION_ITEM_REACHED(MISSION_ITEM_REACHED_DATA { seq })
    }

    /// Feeds messages through state and detector, as the bridge does.
    struct Script {
        state: VehicleState,
        detector: EventDetector,
        now: Instant,
        mission_total_hint: Option<u16>,
    }

    impl Script {
        fn new() -> Self {
            Script {
                state: VehicleState::default(),
                detector: EventDetector::new(),
                now: Instant::now(),
                mission_total_hint: None,
            }
        }

        fn feed(&mut self, message: MavMessage) -> Vec<EventBody> {
            self.now += Duration::from_millis(100);
            let before = self.state.clone();
            self.state.apply(&autopilot_header(), &message, self.now);
            self.detector.observe(
                &before,
                &self.state,
                Some(&message),
                self.mission_total_hint,
            )
        }

        fn wait(&mut self, duration: Duration) -> Vec<EventBody> {
            self.now += duration;
            let before = self.state.clone();
            self.state.check_link(self.now);
            self.detector
                .observe(&before, &self.state, None, self.mission_total_hint)
        }
    }

    #[test]
    fn first_heartbeat_is_not_a_change_but_later_ones_are() {
        let mut script = Script::new();
        assert_eq!(script.feed(heartbeat(Px4Mode::HOLD, false)), vec![]);
        assert_eq!(
            script.feed(heartbeat(Px4Mode::MISSION, true)),
            vec![
                EventBody::ModeChanged {
                    mode: FlightMode::Mission
                },
                EventBody::ArmedChanged { armed: true },
            ]
        );
        assert_eq!(script.feed(heartbeat(Px4Mode::MISSION, true)), vec![]);
    }

    #[test]
    fn last_item_reached_completes_the_mission_once() {
        let mut script = Script::new();
        script.mission_total_hint = Some(3);
        script.feed(heartbeat(Px4Mode::MISSION, true));
        assert_eq!(
            script.feed(item_reached(0)),
            vec![EventBody::MissionItemReached { seq: 0, total: 3 }]
        );
        assert_eq!(script.feed(item_reached(0)), vec![], "repeat is dropped");
        script.feed(item_reached(1));
        assert_eq!(
            script.feed(item_reached(2)),
            vec![
                EventBody::MissionItemReached { seq: 2, total: 3 },
                EventBody::MissionCompleted { total: 3 },
            ]
        );
    }

    #[test]
    fn landed_needs_flight_then_ground_and_disarm() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::HOLD, false));
        script.feed(MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
            time_boot_ms: 0,
            lat: 305_050_000,
            lon: 1_143_980_000,
            alt: 20_000,
            relative_alt: 0,
            vx: 0,
            vy: 0,
            vz: 0,
            hdg: u16::MAX,
        }));
        script.feed(landed_state(MavLandedState::MAV_LANDED_STATE_ON_GROUND));
        script.feed(heartbeat(Px4Mode::HOLD, true));
        script.feed(heartbeat(Px4Mode::HOLD, false));
        let nothing_flown = script.feed(landed_state(MavLandedState::MAV_LANDED_STATE_ON_GROUND));
        assert!(!nothing_flown
            .iter()
            .any(|e| matches!(e, EventBody::Landed { .. })));

        script.feed(heartbeat(Px4Mode::MISSION, true));
        script.feed(landed_state(MavLandedState::MAV_LANDED_STATE_IN_AIR));
        script.feed(landed_state(MavLandedState::MAV_LANDED_STATE_LANDING));
        // On the ground but still armed: not landed yet.
        let touched_down = script.feed(landed_state(MavLandedState::MAV_LANDED_STATE_ON_GROUND));
        assert!(!touched_down
            .iter()
            .any(|e| matches!(e, EventBody::Landed { .. })));
        let disarmed = script.feed(heartbeat(Px4Mode::RETURN, false));
        assert_eq!(
            disarmed
                .iter()
                .filter(|e| matches!(e, EventBody::Landed { .. }))
                .count(),
            1,
            "{disarmed:?}"
        );
        assert!(disarmed.contains(&EventBody::Landed {
            lat_deg: 30.505,
            lon_deg: 114.398
        }));
        let later = script.feed(heartbeat(Px4Mode::RETURN, false));
        assert!(later.is_empty(), "landed is reported once: {later:?}");
    }

    #[test]
    fn link_lost_after_silence_and_regained_on_next_heartbeat() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::HOLD, false));
        assert_eq!(script.wait(Duration::from_secs(2)), vec![]);
        assert_eq!(
            script.wait(Duration::from_secs(2)),
            vec![EventBody::AutopilotLinkLost]
        );
        assert_eq!(script.wait(Duration::from_secs(5)), vec![]);
        assert_eq!(
            script.feed(heartbeat(Px4Mode::HOLD, false)),
            vec![EventBody::AutopilotLinkRegained]
        );
    }

    #[test]
    fn image_captured_carries_position_and_is_deduplicated() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        let capture = MavMessage::CAMERA_IMAGE_CAPTURED(CAMERA_IMAGE_CAPTURED_DATA {
            time_utc: 1_700_000_000_000_000,
            time_boot_ms: 1000,
            lat: 305_057_000,
            lon: 1_143_987_000,
            alt: 50_000,
            relative_alt: 30_000,
            q: [1.0, 0.0, 0.0, 0.0],
            image_index: 0,
            camera_id: 0,
            capture_result: MavBool::MAV_BOOL_TRUE,
            file_url: mavlink::types::CharArray::from(""),
        });
        let events = script.feed(capture.clone());
        let [EventBody::ImageCaptured(image)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert!((image.lat_deg - 30.5057).abs() < 1e-9);
        assert!((image.alt_rel_m - 30.0).abs() < 1e-9);
        assert_eq!(image.time_utc_us, Some(1_700_000_000_000_000));
        assert_eq!(image.file_url, None);
        assert_eq!(script.feed(capture), vec![]);
    }

    #[test]
    fn messages_from_other_systems_are_ignored() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::HOLD, false));
        let other = MavHeader {
            system_id: 7,
            component_id: 1,
            sequence: 0,
        };
        let before = script.state.clone();
        let applied = script
            .state
            .apply(&other, &heartbeat(Px4Mode::MISSION, true), script.now);
        assert_eq!(applied, crate::vehicle_state::Applied::Ignored);
        assert_eq!(before, script.state);
    }
}
