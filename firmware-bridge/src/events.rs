//! Turning changes in vehicle state and notable MAVLink messages into
//! contract events (mission progress, images, status text, mode and arming
//! changes, landing, autopilot link loss, failsafes, geofence breaches).
//!
//! Pure: the detector sees the state before and after each message (or each
//! link check) and returns the events that follow, so its rules are tested
//! with scripted sequences.

use std::collections::VecDeque;
use std::time::Instant;

use mavlink::dialects::ardupilotmega::{FenceBreach, MavBool, MavMessage, MavSeverity};
use wire::event::ImageCaptured;
use wire::{EventBody, FlightMode, LandedState};

use crate::mission_upload::mission_seq_offset;
use crate::status_text::{StatusText, StatusTextAssembler};
use crate::vehicle_state::VehicleState;

/// What the bridge knows besides the vehicle's own reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hints {
    /// Size of the mission this bridge uploaded, used when the autopilot
    /// does not report MISSION_CURRENT.total.
    pub mission_total: Option<u16>,
    /// The mode a command of this bridge asked for in the last few seconds:
    /// a switch to it is not a failsafe.
    pub commanded_mode: Option<FlightMode>,
}

/// Without EXTENDED_SYS_STATE, armed and this high above home counts as flown.
const FLOWN_WITHOUT_LANDED_STATE_ALT_M: f64 = 1.0;
/// Cameras may resend CAMERA_IMAGE_CAPTURED; remember this many indices.
const REMEMBERED_IMAGE_INDICES: usize = 256;

#[derive(Debug, Default)]
pub struct EventDetector {
    has_flown: bool,
    fence_breached: bool,
    last_item_reached: Option<u16>,
    recent_image_indices: VecDeque<i32>,
    status_texts: StatusTextAssembler,
}

impl EventDetector {
    pub fn new() -> Self {
        EventDetector::default()
    }

    pub fn observe(
        &mut self,
        before: &VehicleState,
        after: &VehicleState,
        message: Option<&MavMessage>,
        hints: &Hints,
        now: Instant,
    ) -> Vec<EventBody> {
        let mission_total_hint = hints.mission_total;
        let mut events = Vec::new();
        for text in self.status_texts.expire(now) {
            status_text_events(text, &mut events);
        }
        self.link_changes(before, after, &mut events);
        // The first HEARTBEAT sets mode and armed; it is not a change.
        if before.heartbeats_seen > 0 {
            if before.mode != after.mode {
                events.push(EventBody::ModeChanged { mode: after.mode });
                if let Some(reason) = uncommanded_takeover(before, after, hints) {
                    events.push(EventBody::Failsafe {
                        reason,
                        mode: Some(after.mode),
                    });
                }
            }
            if before.armed != after.armed {
                events.push(EventBody::ArmedChanged { armed: after.armed });
            }
        }
        if let Some(message) = message {
            self.message_events(after, message, mission_total_hint, now, &mut events);
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
        now: Instant,
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
                // ArduPilot's item 0 is home, not one of the dispatcher's.
                let offset = after
                    .autopilot
                    .map_or(0, |target| mission_seq_offset(target.kind));
                let Some(seq) = reached.seq.checked_sub(offset) else {
                    return;
                };
                let total = after.mission_total.or(mission_total_hint).unwrap_or(0);
                events.push(EventBody::MissionItemReached { seq, total });
                if total > 0 && seq + 1 == total {
                    events.push(EventBody::MissionCompleted { total });
                }
            }
            MavMessage::FENCE_STATUS(fence) => {
                let breached = fence.breach_status != 0;
                if breached && !self.fence_breached {
                    let breach = match fence.breach_type {
                        FenceBreach::FENCE_BREACH_MINALT => "min_altitude",
                        FenceBreach::FENCE_BREACH_MAXALT => "max_altitude",
                        FenceBreach::FENCE_BREACH_BOUNDARY => "boundary",
                        FenceBreach::FENCE_BREACH_NONE => "unknown",
                    };
                    events.push(EventBody::FenceBreached {
                        breach: breach.into(),
                        breach_count: fence.breach_count,
                        lat_deg: after.position.map(|fix| fix.lat_deg),
                        lon_deg: after.position.map(|fix| fix.lon_deg),
                    });
                } else if !breached && self.fence_breached {
                    events.push(EventBody::FenceCleared);
                }
                self.fence_breached = breached;
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
                let texts = self.status_texts.push(
                    status.severity as u8,
                    status.id,
                    status.chunk_seq,
                    &status.text[..],
                    now,
                );
                for text in texts {
                    status_text_events(text, events);
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

/// Why a switch to return or land counts as the autopilot taking over, if
/// it does: no command of this bridge asked for it, and it is not the end of
/// the mission handing over (PX4 switches to RTL/LAND when a mission's final
/// return or land item starts).
fn uncommanded_takeover(
    before: &VehicleState,
    after: &VehicleState,
    hints: &Hints,
) -> Option<String> {
    if !matches!(after.mode, FlightMode::Return | FlightMode::Land) {
        return None;
    }
    if hints.commanded_mode == Some(after.mode) {
        return None;
    }
    let on_last_item = match (
        before.mission_seq,
        before.mission_total.or(hints.mission_total),
    ) {
        (Some(seq), Some(total)) => seq + 1 >= total,
        _ => false,
    };
    if before.mode == FlightMode::Mission && on_last_item {
        return None;
    }
    let to = if after.mode == FlightMode::Return {
        "return"
    } else {
        "land"
    };
    Some(format!(
        "autopilot switched from {:?} to {to} without a command",
        before.mode
    ))
}

/// A status text as an event, and as a failsafe too when it announces one.
fn status_text_events(status: StatusText, events: &mut Vec<EventBody>) {
    // PX4 and ArduPilot both announce failsafes in words ("Battery
    // Failsafe", "Failsafe activated: ..."), at warning or worse.
    let announced_failsafe = status.severity <= MavSeverity::MAV_SEVERITY_WARNING as u8
        && status.text.to_ascii_lowercase().contains("failsafe");
    let failsafe_reason = announced_failsafe.then(|| status.text.clone());
    events.push(EventBody::StatusText {
        severity: status.severity,
        text: status.text,
        incomplete: status.incomplete,
    });
    if let Some(reason) = failsafe_reason {
        events.push(EventBody::Failsafe { reason, mode: None });
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
        hints: Hints,
    }

    impl Script {
        fn new() -> Self {
            Script {
                state: VehicleState::default(),
                detector: EventDetector::new(),
                now: Instant::now(),
                hints: Hints::default(),
            }
        }

        fn feed(&mut self, message: MavMessage) -> Vec<EventBody> {
            self.now += Duration::from_millis(100);
            let before = self.state.clone();
            self.state.apply(&autopilot_header(), &message, self.now);
            self.detector
                .observe(&before, &self.state, Some(&message), &self.hints, self.now)
        }

        fn wait(&mut self, duration: Duration) -> Vec<EventBody> {
            self.now += duration;
            let before = self.state.clone();
            self.state.check_link(self.now);
            self.detector
                .observe(&before, &self.state, None, &self.hints, self.now)
        }
    }

    fn ardupilot_heartbeat(mode: u32, armed: bool) -> MavMessage {
        let MavMessage::HEARTBEAT(mut data) = heartbeat(Px4Mode::HOLD, armed) else {
            unreachable!()
        };
        data.autopilot = MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA;
        data.custom_mode = mode;
        MavMessage::HEARTBEAT(data)
    }

    fn status_text(severity: MavSeverity, text: &str) -> MavMessage {
        MavMessage::STATUSTEXT(STATUSTEXT_DATA {
            severity,
            text: mavlink::types::CharArray::from(text),
            id: 0,
            chunk_seq: 0,
        })
    }

    fn fence_status(breached: bool, breach_type: FenceBreach, count: u16) -> MavMessage {
        MavMessage::FENCE_STATUS(FENCE_STATUS_DATA {
            breach_time: 0,
            breach_count: count,
            breach_status: u8::from(breached),
            breach_type,
            breach_mitigation: FenceMitigate::FENCE_MITIGATE_UNKNOWN,
        })
    }

    fn failsafes(events: &[EventBody]) -> Vec<EventBody> {
        events
            .iter()
            .filter(|e| matches!(e, EventBody::Failsafe { .. }))
            .cloned()
            .collect()
    }

    #[test]
    fn an_uncommanded_return_is_a_failsafe_and_a_commanded_one_is_not() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        let taken_over = script.feed(heartbeat(Px4Mode::RETURN, true));
        assert_eq!(
            failsafes(&taken_over),
            [EventBody::Failsafe {
                reason: "autopilot switched from Mission to return without a command".into(),
                mode: Some(FlightMode::Return),
            }]
        );

        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        script.hints.commanded_mode = Some(FlightMode::Land);
        assert_eq!(failsafes(&script.feed(heartbeat(Px4Mode::LAND, true))), []);
    }

    #[test]
    fn a_mission_ending_in_return_is_not_a_failsafe() {
        let mut script = Script::new();
        script.hints.mission_total = Some(4);
        script.feed(heartbeat(Px4Mode::MISSION, true));
        script.feed(mission_current(3, 4));
        assert_eq!(
            failsafes(&script.feed(heartbeat(Px4Mode::RETURN, true))),
            []
        );
    }

    #[test]
    fn a_failsafe_announced_in_status_text_is_reported() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        let events = script.feed(status_text(
            MavSeverity::MAV_SEVERITY_CRITICAL,
            "Battery Failsafe - Critical",
        ));
        assert_eq!(
            failsafes(&events),
            [EventBody::Failsafe {
                reason: "Battery Failsafe - Critical".into(),
                mode: None,
            }]
        );
        // Informational chatter mentioning the word is not one.
        let info = script.feed(status_text(
            MavSeverity::MAV_SEVERITY_INFO,
            "failsafe parameters loaded",
        ));
        assert_eq!(failsafes(&info), []);
    }

    fn status_chunk(severity: MavSeverity, id: u16, chunk_seq: u8, text: &str) -> MavMessage {
        MavMessage::STATUSTEXT(STATUSTEXT_DATA {
            severity,
            text: mavlink::types::CharArray::from(text),
            id,
            chunk_seq,
        })
    }

    #[test]
    fn a_chunked_status_text_is_one_event_and_its_failsafe_is_seen_across_chunks() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        // "Fail" ends chunk 0 and "safe" starts chunk 1: only the whole
        // text says failsafe.
        let first = format!("{}Fail", "x".repeat(46));
        let critical = MavSeverity::MAV_SEVERITY_CRITICAL;
        assert_eq!(script.feed(status_chunk(critical, 12, 0, &first)), []);
        let events = script.feed(status_chunk(critical, 12, 1, "safe: RC lost"));
        let text = format!("{first}safe: RC lost");
        assert_eq!(
            events,
            [
                EventBody::StatusText {
                    severity: critical as u8,
                    text: text.clone(),
                    incomplete: false,
                },
                EventBody::Failsafe {
                    reason: text,
                    mode: None,
                }
            ]
        );
    }

    #[test]
    fn the_incomplete_flag_is_on_the_wire_only_when_set() {
        let event = |incomplete| wire::Event {
            v: wire::VERSION,
            id: "e-1".into(),
            drone: "d1".into(),
            ts_ms: 0,
            body: EventBody::StatusText {
                severity: 6,
                text: "hello".into(),
                incomplete,
            },
        };
        let complete = String::from_utf8(wire::encode(&event(false))).unwrap();
        assert!(!complete.contains("incomplete"), "{complete}");
        let partial = String::from_utf8(wire::encode(&event(true))).unwrap();
        assert!(partial.contains(r#""incomplete":true"#), "{partial}");
        // Readers of the old form (no field) get a complete text.
        let old = br#"{"v":1,"id":"e-1","drone":"d1","ts_ms":0,"kind":"status_text","body":{"severity":6,"text":"hello"}}"#;
        assert_eq!(wire::decode::<wire::Event>(old).unwrap(), event(false));
    }

    #[test]
    fn a_chunked_status_text_missing_its_end_is_reported_incomplete_on_a_link_check() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        let first = "y".repeat(50);
        let info = MavSeverity::MAV_SEVERITY_INFO;
        assert_eq!(script.feed(status_chunk(info, 3, 0, &first)), []);
        script.feed(heartbeat(Px4Mode::MISSION, true));
        let events = script.wait(crate::status_text::REASSEMBLY_TIMEOUT);
        assert_eq!(
            events,
            [EventBody::StatusText {
                severity: info as u8,
                text: format!("{first}…"),
                incomplete: true,
            }]
        );
        assert_eq!(script.wait(Duration::from_millis(100)), []);
    }

    #[test]
    fn fence_breach_and_clearance_are_reported_once_each() {
        let mut script = Script::new();
        script.feed(heartbeat(Px4Mode::MISSION, true));
        assert_eq!(
            script.feed(fence_status(false, FenceBreach::FENCE_BREACH_NONE, 0)),
            []
        );
        let breached = script.feed(fence_status(true, FenceBreach::FENCE_BREACH_BOUNDARY, 1));
        assert_eq!(
            breached,
            [EventBody::FenceBreached {
                breach: "boundary".into(),
                breach_count: 1,
                lat_deg: None,
                lon_deg: None,
            }]
        );
        assert_eq!(
            script.feed(fence_status(true, FenceBreach::FENCE_BREACH_BOUNDARY, 1)),
            []
        );
        assert_eq!(
            script.feed(fence_status(false, FenceBreach::FENCE_BREACH_NONE, 1)),
            [EventBody::FenceCleared]
        );
    }

    fn mission_current(seq: u16, total: u16) -> MavMessage {
        MavMessage::MISSION_CURRENT(MISSION_CURRENT_DATA {
            seq,
            total,
            mission_state: MissionState::MISSION_STATE_ACTIVE,
            mission_mode: 1,
            mission_id: 0,
            fence_id: 0,
            rally_points_id: 0,
        })
    }

    #[test]
    fn ardupilot_progress_is_counted_without_its_home_item() {
        let mut script = Script::new();
        script.feed(ardupilot_heartbeat(3, true));
        // ArduPilot stores 1 home item + 3 of the dispatcher's; MAVLink's
        // total leaves the home item out (on the last item, seq == total).
        script.feed(mission_current(1, 3));
        assert_eq!(
            (script.state.mission_seq, script.state.mission_total),
            (Some(0), Some(3))
        );
        assert_eq!(script.feed(item_reached(0)), [], "home is not an item");
        assert_eq!(
            script.feed(item_reached(1)),
            [EventBody::MissionItemReached { seq: 0, total: 3 }]
        );
        assert_eq!(
            script.feed(item_reached(3)),
            [
                EventBody::MissionItemReached { seq: 2, total: 3 },
                EventBody::MissionCompleted { total: 3 }
            ]
        );
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
        script.hints.mission_total = Some(3);
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
