//! What the bridge does with bytes from the autopilot link, as one pure
//! function over a byte buffer: find the CRC-valid MAVLink frames, parse
//! them, fold them into the vehicle state and detect events. Bytes that are
//! not part of a valid frame, and frames that do not parse, are counted.
//!
//! Framing uses the `mavlink` crate's frame layout and CRC check, and
//! parsing its dialect. UDP links receive through [`read_frames_accepted`]
//! itself, TCP and serial links through [`StreamScanner`], which applies the
//! same scan to a stream read in pieces. Either way
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

/// What starts at one position of the input.
// Lives for one step of the scan, on the stack: boxing the frame would cost
// an allocation per received frame for nothing.
#[allow(clippy::large_enum_variant)]
enum FrameStart {
    /// A CRC-valid frame of this many bytes.
    Frame(MAVLinkMessageRaw, usize),
    /// Not the start of a valid frame: one byte of noise.
    Noise,
    /// Could be a frame that has not fully arrived yet.
    Incomplete,
}

/// The bytes a frame needs before its length is known: MAVLink 2 keeps it
/// in byte 1 (payload) and byte 2 (signature flag), MAVLink 1 in byte 1.
const V2_LENGTH_KNOWN_AT: usize = 3;
const V1_LENGTH_KNOWN_AT: usize = 2;

fn frame_at(bytes: &[u8], at: usize) -> FrameStart {
    let rest = &bytes[at..];
    let (raw, len) = match rest.first() {
        Some(&STX_V2) if rest.len() < V2_LENGTH_KNOWN_AT => return FrameStart::Incomplete,
        Some(&STX_V1) if rest.len() < V1_LENGTH_KNOWN_AT => return FrameStart::Incomplete,
        Some(&STX_V2) => {
            let mut buffer = [0u8; mavlink::consts::MAX_FRAME_SIZE];
            let available = rest.len().min(buffer.len());
            buffer[..available].copy_from_slice(&rest[..available]);
            let raw = MAVLinkV2MessageRaw::from_bytes_unparsed(buffer);
            let len = raw.raw_bytes().len();
            (MAVLinkMessageRaw::V2(raw), len)
        }
        Some(&STX_V1) => {
            let mut buffer = [0u8; mavlink::consts::v1::FRAME_SIZE];
            let available = rest.len().min(buffer.len());
            buffer[..available].copy_from_slice(&rest[..available]);
            let raw = MAVLinkV1MessageRaw::from_bytes_unparsed(buffer);
            let len = raw.raw_bytes().len();
            (MAVLinkMessageRaw::V1(raw), len)
        }
        _ => return FrameStart::Noise,
    };
    if len > rest.len() {
        return FrameStart::Incomplete;
    }
    let valid = match &raw {
        MAVLinkMessageRaw::V2(raw) => raw.has_valid_crc::<MavMessage>(),
        MAVLinkMessageRaw::V1(raw) => raw.has_valid_crc::<MavMessage>(),
    };
    if valid {
        FrameStart::Frame(raw, len)
    } else {
        FrameStart::Noise
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
/// `bytes` is a whole datagram: a frame cut off at its end is noise.
pub fn read_frames_accepted(
    bytes: &[u8],
    tally: &mut InputTally,
    accept: impl FnMut(&MAVLinkMessageRaw) -> bool,
) -> Vec<(MavHeader, MavMessage)> {
    let mut frames = Vec::new();
    scan(bytes, true, tally, accept, &mut frames);
    frames
}

/// Scans `bytes` for frames, appending them to `frames`; returns how many
/// bytes were consumed. Unless `at_end`, it stops before a frame that may
/// still be arriving, leaving it for the next call.
fn scan(
    bytes: &[u8],
    at_end: bool,
    tally: &mut InputTally,
    mut accept: impl FnMut(&MAVLinkMessageRaw) -> bool,
    frames: &mut Vec<(MavHeader, MavMessage)>,
) -> usize {
    let mut at = 0;
    while at < bytes.len() {
        let (raw, len) = match frame_at(bytes, at) {
            FrameStart::Frame(raw, len) => (raw, len),
            FrameStart::Incomplete if !at_end => return at,
            FrameStart::Noise | FrameStart::Incomplete => {
                tally.skipped_bytes += 1;
                at += 1;
                continue;
            }
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
    at
}

/// Frames from a byte stream (TCP, serial) read in arbitrary pieces: the
/// same checks and counts as [`read_frames_accepted`] on a datagram, with a
/// frame split across reads held back until the rest of it arrives. At
/// most one frame's worth of bytes is held.
#[derive(Debug, Default)]
pub struct StreamScanner {
    pending: Vec<u8>,
}

impl StreamScanner {
    pub fn new() -> Self {
        StreamScanner::default()
    }

    /// The frames completed by `bytes`, the next piece of the stream.
    pub fn push(
        &mut self,
        bytes: &[u8],
        tally: &mut InputTally,
        accept: impl FnMut(&MAVLinkMessageRaw) -> bool,
    ) -> Vec<(MavHeader, MavMessage)> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let consumed = scan(&self.pending, false, tally, accept, &mut frames);
        self.pending.drain(..consumed);
        frames
    }

    /// The stream has ended (or broke): what is still held can no longer
    /// become a frame by itself, but frames may follow a false start in it.
    pub fn finish(
        &mut self,
        tally: &mut InputTally,
        accept: impl FnMut(&MAVLinkMessageRaw) -> bool,
    ) -> Vec<(MavHeader, MavMessage)> {
        let mut frames = Vec::new();
        scan(&self.pending, true, tally, accept, &mut frames);
        self.pending.clear();
        frames
    }

    /// Bytes held back waiting for the rest of a frame.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }
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
        events.extend(detector.observe(&before, state, Some(&message), hints, now));
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

    /// Noise, a false MAVLink 2 start claiming a long payload, a frame with
    /// a broken CRC, a MAVLink 1 false start, and three good frames.
    fn hostile_stream() -> (Vec<u8>, usize) {
        let heartbeat = frame(1, &px4_heartbeat());
        let mut corrupted = heartbeat.clone();
        let crc_at = corrupted.len() - 1;
        corrupted[crc_at] ^= 0x5a;
        let mut bytes = b"line noise".to_vec();
        bytes.extend_from_slice(&heartbeat);
        bytes.extend_from_slice(&[0xfd, 0xf0, 0x00]);
        bytes.extend_from_slice(&corrupted);
        bytes.extend_from_slice(&heartbeat);
        bytes.extend_from_slice(&[0xfe, 0x09]);
        bytes.extend_from_slice(&heartbeat);
        (bytes, 3)
    }

    #[test]
    fn a_stream_read_in_any_pieces_yields_what_the_whole_buffer_does() {
        let (bytes, good) = hostile_stream();
        let mut whole = InputTally::default();
        let expected = read_frames(&bytes, &mut whole);
        assert_eq!(expected.len(), good);
        assert_eq!(
            whole.skipped_bytes,
            (bytes.len() - good * frame(1, &px4_heartbeat()).len()) as u64
        );
        // Every split into two pieces, and byte by byte.
        let mut splits: Vec<Vec<&[u8]>> = (0..=bytes.len())
            .map(|at| vec![&bytes[..at], &bytes[at..]])
            .collect();
        splits.push(bytes.chunks(1).collect());
        splits.push(bytes.chunks(7).collect());
        for pieces in splits {
            let mut scanner = StreamScanner::new();
            let mut tally = InputTally::default();
            let mut frames = Vec::new();
            for piece in &pieces {
                frames.extend(scanner.push(piece, &mut tally, |_| true));
                assert!(scanner.pending_bytes() <= mavlink::consts::MAX_FRAME_SIZE);
            }
            // The false start claims 252 bytes, more than follow it, so the
            // frames behind it wait for the end of the stream (on a live
            // link, for the next bytes); the one before it does not.
            assert_eq!(frames.len(), 1, "{} pieces", pieces.len());
            frames.extend(scanner.finish(&mut tally, |_| true));
            assert_eq!(tally, whole, "{} pieces", pieces.len());
            assert_eq!(format!("{frames:?}"), format!("{expected:?}"));
        }
    }

    #[test]
    fn a_frame_torn_by_the_end_of_the_stream_is_counted_not_lost_track_of() {
        let heartbeat = frame(1, &px4_heartbeat());
        let mut scanner = StreamScanner::new();
        let mut tally = InputTally::default();
        let mut bytes = heartbeat.clone();
        bytes.extend_from_slice(&heartbeat[..5]);
        assert_eq!(scanner.push(&bytes, &mut tally, |_| true).len(), 1);
        assert_eq!(scanner.pending_bytes(), 5, "waits for the rest");
        assert_eq!(tally.skipped_bytes, 0);
        assert!(scanner.finish(&mut tally, |_| true).is_empty());
        assert_eq!(tally.skipped_bytes, 5);
        assert_eq!(scanner.pending_bytes(), 0);
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
