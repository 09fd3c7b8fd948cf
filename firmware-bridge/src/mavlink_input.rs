//! What the bridge does with bytes from the autopilot link, as one pure
//! function over a byte buffer: find the CRC-valid MAVLink frames, parse
//! them, fold them into the vehicle state and detect events. Bytes that are
//! not part of a valid frame, and frames that do not parse, are counted.
//!
//! Framing uses the `mavlink` crate's frame layout and CRC check, and
//! parsing its dialect. UDP links receive through [`read_frames_accepted`]
//! itself; TCP and serial links through the crate's connection. Either way
//! frames then go through the same [`VehicleState::apply`] and
//! [`EventDetector::observe`]. [`ingest`] strings these together so the fuzz
//! target (fuzz/fuzz_targets/mavlink_input.rs) and the corpus test can throw
//! arbitrary bytes at that code. Nothing here can send: the
//! input side of the bridge has no handle on the link's sending half.

use std::time::Instant;

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::{MAVLinkMessageRaw, MAVLinkV1MessageRaw, MAVLinkV2MessageRaw, MavHeader, Message};
use wire::EventBody;

use crate::events::{EventDetector, Hints};
use crate::vehicle_state::{Applied, VehicleState};

/// Counts of what came in, for logs and for checking the accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputTally {
    /// CRC-valid frames that parsed.
    pub frames: u64,
    /// CRC-valid frames whose payload did not parse (bad enum value...).
    pub unparsable_frames: u64,
    /// Frames from other systems or components, ignored.
    pub ignored_frames: u64,
    /// Bytes outside any CRC-valid frame: noise, torn or corrupt frames.
    pub skipped_bytes: u64,
    /// CRC-valid frames refused by the link's signature check.
    pub rejected_frames: u64,
}

impl InputTally {
    /// Everything refused so far, for "did this input add a refusal?".
    pub fn refusals(&self) -> u64 {
        self.unparsable_frames + self.skipped_bytes + self.rejected_frames
    }
}

/// MAVLink 2 and MAVLink 1 start-of-frame markers.
const STX_V2: u8 = 0xFD;
const STX_V1: u8 = 0xFE;

/// The CRC-valid frame starting at `at`, and its length, if there is one.
/// Never waits for more bytes: a buffer is a datagram or what a stream has
/// delivered so far, and a frame cut off at its end simply is not there.
fn frame_at(bytes: &[u8], at: usize) -> Option<(MAVLinkMessageRaw, usize)> {
    let rest = &bytes[at..];
    match *rest.first()? {
        STX_V2 => {
            let mut buffer = [0u8; mavlink::consts::MAX_FRAME_SIZE];
            let available = rest.len().min(buffer.len());
            buffer[..available].copy_from_slice(&rest[..available]);
            let raw = MAVLinkV2MessageRaw::from_bytes_unparsed(buffer);
            let len = raw.raw_bytes().len();
            (len <= rest.len() && raw.has_valid_crc::<MavMessage>())
                .then_some((MAVLinkMessageRaw::V2(raw), len))
        }
        STX_V1 => {
            let mut buffer = [0u8; mavlink::consts::v1::FRAME_SIZE];
            let available = rest.len().min(buffer.len());
            buffer[..available].copy_from_slice(&rest[..available]);
            let raw = MAVLinkV1MessageRaw::from_bytes_unparsed(buffer);
            let len = raw.raw_bytes().len();
            (len <= rest.len() && raw.has_valid_crc::<MavMessage>())
                .then_some((MAVLinkMessageRaw::V1(raw), len))
        }
        _ => None,
    }
}

/// Every parsable frame in `bytes`, in order. A byte that does not start a
/// CRC-valid frame is skipped (and counted), and the search resumes at the
/// next byte, so noise never hides the frames behind it.
pub fn read_frames(bytes: &[u8], tally: &mut InputTally) -> Vec<(MavHeader, MavMessage)> {
    read_frames_accepted(bytes, tally, |_| true)
}

/// Like [`read_frames`], keeping only the frames `accept` approves (the
/// link's signature check); the others are counted in `rejected_frames`.
pub fn read_frames_accepted(
    bytes: &[u8],
    tally: &mut InputTally,
    mut accept: impl FnMut(&MAVLinkMessageRaw) -> bool,
) -> Vec<(MavHeader, MavMessage)> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some((raw, len)) = frame_at(bytes, at) else {
            tally.skipped_bytes += 1;
            at += 1;
            continue;
        };
        at += len;
        if !accept(&raw) {
            tally.rejected_frames += 1;
            continue;
        }
        let header = MavHeader {
            system_id: raw.system_id(),
            component_id: raw.component_id(),
            sequence: raw.sequence(),
        };
        match MavMessage::parse(raw.version(), raw.message_id(), raw.payload()) {
            Ok(message) => {
                tally.frames += 1;
                frames.push((header, message));
            }
            Err(error) => {
                tally.unparsable_frames += 1;
                tracing::debug!(%error, msgid = raw.message_id(), "unparsable MAVLink frame");
            }
        }
    }
    frames
}

/// Folds `bytes` into `state` and returns the events they cause.
pub fn ingest(
    bytes: &[u8],
    state: &mut VehicleState,
    detector: &mut EventDetector,
    hints: &Hints,
    now: Instant,
    tally: &mut InputTally,
) -> Vec<EventBody> {
    let mut events = Vec::new();
    for (header, message) in read_frames(bytes, tally) {
        let before = state.clone();
        if state.apply(&header, &message, now) == Applied::Ignored {
            tally.ignored_frames += 1;
            continue;
        }
        events.extend(detector.observe(&before, state, Some(&message), hints));
    }
    events
}

#[cfg(test)]
mod tests {
    use mavlink::dialects::ardupilotmega::*;

    use super::*;

    pub fn frame(system_id: u8, message: &MavMessage) -> Vec<u8> {
        let mut bytes = Vec::new();
        let header = MavHeader {
            system_id: u32::from(system_id),
            component_id: 1,
            sequence: 0,
        };
        mavlink::write_v2_msg(&mut bytes, header, message).unwrap();
        bytes
    }

    fn px4_heartbeat() -> MavMessage {
        MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: 0x0404_0000,
            mavtype: MavType::MAV_TYPE_QUADROTOR,
            autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
            base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
            system_status: MavState::MAV_STATE_STANDBY,
            mavlink_version: 3,
        })
    }

    #[test]
    fn valid_frames_between_noise_are_read_and_the_noise_counted() {
        let mut bytes = b"\x00\xfd\x01 noise".to_vec();
        let heartbeat = frame(1, &px4_heartbeat());
        bytes.extend_from_slice(&heartbeat);
        bytes.extend_from_slice(b"more noise");
        bytes.extend_from_slice(&heartbeat);
        let mut tally = InputTally::default();
        let frames = read_frames(&bytes, &mut tally);
        assert_eq!(frames.len(), 2);
        assert_eq!(tally.frames, 2);
        assert_eq!(
            tally.skipped_bytes,
            (bytes.len() - 2 * heartbeat.len()) as u64
        );
    }

    #[test]
    fn a_corrupted_frame_is_skipped_not_misread() {
        let mut heartbeat = frame(1, &px4_heartbeat());
        let middle = heartbeat.len() / 2;
        heartbeat[middle] ^= 0xff;
        let mut tally = InputTally::default();
        assert!(read_frames(&heartbeat, &mut tally).is_empty());
        assert_eq!(tally.skipped_bytes, heartbeat.len() as u64);
    }

    #[test]
    fn frames_from_another_system_do_not_change_the_vehicle() {
        let mut state = VehicleState::default();
        let mut detector = EventDetector::new();
        let mut tally = InputTally::default();
        let mut bytes = frame(1, &px4_heartbeat());
        bytes.extend_from_slice(&frame(7, &px4_heartbeat()));
        ingest(
            &bytes,
            &mut state,
            &mut detector,
            &Hints::default(),
            Instant::now(),
            &mut tally,
        );
        assert_eq!(state.autopilot.map(|t| t.system_id), Some(1));
        assert_eq!(tally.ignored_frames, 1);
    }
}
