//! MAVLink 2 over UDP: splitting datagrams into validated frames, encoding
//! outgoing messages, and remembering which ground stations to stream to.
//!
//! Decoding is done here rather than with the mavlink crate's reader because
//! the simulator must count every kind of bad input (garbage, bad CRC,
//! MAVLink 1, unknown ids) instead of silently resynchronising.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::{MavHeader, Message};

const MAGIC_V2: u8 = 0xFD;
const MAGIC_V1: u8 = 0xFE;
const V2_HEADER_LEN: usize = 10;
const V1_HEADER_LEN: usize = 6;
const CHECKSUM_LEN: usize = 2;
const SIGNATURE_LEN: usize = 13;
const INCOMPAT_FLAG_SIGNED: u8 = 0x01;

/// A ground station silent for longer than this no longer receives streams.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// One CRC-valid MAVLink 2 frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub header: MavHeader,
    pub message_id: u32,
    /// Zero-extension is left to the parser; this is the wire payload.
    pub payload: Vec<u8>,
    /// `None` when the payload does not decode (e.g. an enum value this
    /// dialect does not know, such as an unknown MAV_CMD).
    pub message: Option<MavMessage>,
}

/// What was wrong with the bytes that did not become frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputProblems {
    pub garbage_bytes: u64,
    pub bad_crc: u64,
    pub mavlink1_frames: u64,
    pub unknown_messages: u64,
    pub truncated: u64,
    pub unsupported_flags: u64,
}

impl InputProblems {
    pub fn total(&self) -> u64 {
        self.garbage_bytes
            + self.bad_crc
            + self.mavlink1_frames
            + self.unknown_messages
            + self.truncated
            + self.unsupported_flags
    }

    pub fn add(&mut self, other: &InputProblems) {
        self.garbage_bytes += other.garbage_bytes;
        self.bad_crc += other.bad_crc;
        self.mavlink1_frames += other.mavlink1_frames;
        self.unknown_messages += other.unknown_messages;
        self.truncated += other.truncated;
        self.unsupported_flags += other.unsupported_flags;
    }
}

/// Split a datagram into MAVLink 2 frames. Never fails: whatever is not a
/// valid frame is counted in the returned problems and skipped.
pub fn decode_datagram(bytes: &[u8]) -> (Vec<Frame>, InputProblems) {
    let mut frames = Vec::new();
    let mut problems = InputProblems::default();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        match rest[0] {
            MAGIC_V2 => match decode_v2(rest) {
                V2Outcome::Frame(frame, length) => {
                    frames.push(frame);
                    offset += length;
                }
                V2Outcome::Skip(length, problem) => {
                    problem(&mut problems);
                    offset += length;
                }
            },
            MAGIC_V1 if rest.len() >= V1_HEADER_LEN + CHECKSUM_LEN => {
                // MAVLink 1 is not spoken here; skip the whole frame when it fits.
                problems.mavlink1_frames += 1;
                let length = V1_HEADER_LEN + usize::from(rest[1]) + CHECKSUM_LEN;
                offset += if length <= rest.len() { length } else { 1 };
            }
            _ => {
                problems.garbage_bytes += 1;
                offset += 1;
            }
        }
    }
    (frames, problems)
}

// Returned by value once per frame and consumed at once; boxing would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
enum V2Outcome {
    Frame(Frame, usize),
    /// Skip this many bytes, recording the problem.
    Skip(usize, fn(&mut InputProblems)),
}

fn decode_v2(bytes: &[u8]) -> V2Outcome {
    if bytes.len() < V2_HEADER_LEN + CHECKSUM_LEN {
        return V2Outcome::Skip(bytes.len(), |problems| problems.truncated += 1);
    }
    let payload_len = usize::from(bytes[1]);
    let incompat_flags = bytes[2];
    if incompat_flags & !INCOMPAT_FLAG_SIGNED != 0 {
        // The spec says drop frames with unknown incompatibility flags; their
        // length cannot be trusted, so resynchronise byte by byte.
        return V2Outcome::Skip(1, |problems| problems.unsupported_flags += 1);
    }
    let signature_len = if incompat_flags & INCOMPAT_FLAG_SIGNED != 0 {
        SIGNATURE_LEN
    } else {
        0
    };
    let frame_len = V2_HEADER_LEN + payload_len + CHECKSUM_LEN + signature_len;
    if bytes.len() < frame_len {
        return V2Outcome::Skip(1, |problems| problems.truncated += 1);
    }
    let message_id = u32::from_le_bytes([bytes[7], bytes[8], bytes[9], 0]);
    if MavMessage::default_message_from_id(message_id).is_none() {
        return V2Outcome::Skip(frame_len, |problems| problems.unknown_messages += 1);
    }
    let crc_end = V2_HEADER_LEN + payload_len;
    let expected_crc =
        mavlink::calculate_crc(&bytes[1..crc_end], MavMessage::extra_crc(message_id));
    let received_crc = u16::from_le_bytes([bytes[crc_end], bytes[crc_end + 1]]);
    if expected_crc != received_crc {
        // A corrupt length byte would make us skip good frames; resync instead.
        return V2Outcome::Skip(1, |problems| problems.bad_crc += 1);
    }
    let header = MavHeader {
        sequence: bytes[4],
        system_id: u32::from(bytes[5]),
        component_id: bytes[6],
    };
    let payload = bytes[V2_HEADER_LEN..crc_end].to_vec();
    let message = MavMessage::parse(mavlink::MavlinkVersion::V2, message_id, &payload).ok();
    V2Outcome::Frame(
        Frame {
            header,
            message_id,
            payload,
            message,
        },
        frame_len,
    )
}

/// Serialise `message` as a MAVLink 2 frame.
pub fn encode(header: MavHeader, message: &MavMessage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    if let Err(error) = mavlink::write_v2_msg(&mut bytes, header, message) {
        tracing::error!(%error, "encoding a MAVLink frame failed");
        bytes.clear();
    }
    bytes
}

/// Ground stations heard from recently; streams go to all of them.
#[derive(Debug, Default)]
pub struct Peers {
    last_heard: HashMap<SocketAddr, Instant>,
    /// Ground stations that listen without speaking first (QGroundControl
    /// on 14550, MAVSDK's `udpin://`): streamed to always, never pruned,
    /// like PX4 SITL's fixed remote port.
    fixed: Vec<SocketAddr>,
}

impl Peers {
    pub fn with_fixed(fixed: Vec<SocketAddr>) -> Peers {
        Peers {
            last_heard: HashMap::new(),
            fixed,
        }
    }

    /// Record a valid frame from `address`; true if it is a new (or returning) peer.
    pub fn heard_from(&mut self, address: SocketAddr, now: Instant) -> bool {
        self.last_heard.insert(address, now).is_none() && !self.fixed.contains(&address)
    }

    /// Forget peers silent for longer than [`PEER_TIMEOUT`].
    pub fn prune(&mut self, now: Instant) -> Vec<SocketAddr> {
        let mut gone = Vec::new();
        self.last_heard.retain(|address, last_heard| {
            let alive = now.duration_since(*last_heard) <= PEER_TIMEOUT;
            if !alive && !self.fixed.contains(address) {
                gone.push(*address);
            }
            alive
        });
        gone
    }

    pub fn addresses(&self) -> impl Iterator<Item = &SocketAddr> {
        let heard = self
            .last_heard
            .keys()
            .filter(|address| !self.fixed.contains(address));
        self.fixed.iter().chain(heard)
    }

    pub fn is_empty(&self) -> bool {
        self.last_heard.is_empty() && self.fixed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mavlink::dialects::ardupilotmega::{
        MavAutopilot, MavModeFlag, MavState, MavType, HEARTBEAT_DATA,
    };

    fn heartbeat_frame() -> Vec<u8> {
        let message = MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: 0,
            mavtype: MavType::MAV_TYPE_GCS,
            autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
            base_mode: MavModeFlag::empty(),
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        });
        encode(
            MavHeader {
                system_id: 245,
                component_id: 190,
                sequence: 7,
            },
            &message,
        )
    }

    #[test]
    fn decodes_back_to_back_frames_between_garbage() {
        let mut datagram = vec![0x00, 0x42];
        datagram.extend(heartbeat_frame());
        datagram.extend([0x13, 0x37, 0x99]);
        datagram.extend(heartbeat_frame());
        let (frames, problems) = decode_datagram(&datagram);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].header.system_id, 245);
        assert_eq!(frames[0].header.sequence, 7);
        assert!(matches!(frames[1].message, Some(MavMessage::HEARTBEAT(_))));
        assert_eq!(problems.garbage_bytes, 5);
    }

    #[test]
    fn rejects_bad_crc_and_mavlink1_and_truncation() {
        let mut corrupt = heartbeat_frame();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xFF;
        let (frames, problems) = decode_datagram(&corrupt);
        assert!(frames.is_empty());
        assert_eq!(problems.bad_crc, 1);

        // MAVLink 1 heartbeat: FE len seq sys comp msgid payload(9) crc(2).
        let mut v1 = vec![0xFE, 9, 0, 255, 0, 0];
        v1.extend([0u8; 9]);
        v1.extend([0x12, 0x34]);
        let (frames, problems) = decode_datagram(&v1);
        assert!(frames.is_empty());
        assert_eq!(problems.mavlink1_frames, 1);

        let whole = heartbeat_frame();
        let (frames, problems) = decode_datagram(&whole[..whole.len() - 3]);
        assert!(frames.is_empty());
        assert!(problems.total() > 0);
    }

    #[test]
    fn unknown_message_id_is_counted_and_skipped() {
        let mut frame = heartbeat_frame();
        frame[7] = 0xEE;
        frame[8] = 0xEE;
        frame.extend(heartbeat_frame());
        let (frames, problems) = decode_datagram(&frame);
        assert_eq!(frames.len(), 1);
        assert_eq!(problems.unknown_messages, 1);
    }

    #[test]
    fn peers_expire_after_silence() {
        let start = Instant::now();
        let mut peers = Peers::default();
        let address: SocketAddr = "127.0.0.1:14550".parse().expect("address");
        assert!(peers.heard_from(address, start));
        assert!(!peers.heard_from(address, start));
        assert!(peers.prune(start + Duration::from_secs(5)).is_empty());
        assert_eq!(peers.prune(start + Duration::from_secs(11)), vec![address]);
        assert!(peers.is_empty());
    }
}
