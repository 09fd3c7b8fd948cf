//! The MAVLink connection to the autopilot: connecting (and reconnecting a
//! TCP or serial link), sending with the bridge's own identity, receiving
//! with bad bytes and frames skipped and counted the same way on every
//! transport, and the bridge's 1 Hz HEARTBEAT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavMessage, MavModeFlag, MavState, MavType, HEARTBEAT_DATA,
};
use mavlink::{MAVLinkMessageRaw, MavHeader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::mavlink_input::{read_frames_accepted, InputTally, StreamScanner};

/// Our MAVLink system id: the 245-254 band is where fleet bridges live, away
/// from autopilots (1..) and ground stations (255).
pub const BRIDGE_SYSTEM_ID: u8 = 245;
/// MAV_COMP_ID_ONBOARD_COMPUTER: the bridge runs on the companion computer.
pub const BRIDGE_COMPONENT_ID: u8 = 191;

const HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot open MAVLink link {address}: {source}")]
    Open {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot send {message}: MAVLink link {address} is down, being reopened")]
    Down {
        address: String,
        message: &'static str,
    },
    #[error("cannot send {message} on MAVLink link {address}: {reason}")]
    Send {
        address: String,
        message: &'static str,
        reason: String,
    },
}

/// MAVLink 2 message signing on the autopilot link. The key is the one the
/// autopilot was given over a trusted link (USB, by the operator); the
/// bridge never sends SETUP_SIGNING itself.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkSigning {
    pub secret_key: [u8; 32],
    /// Also accept unsigned frames (e.g. while rolling keys out); off means
    /// unsigned and wrongly signed frames are dropped.
    pub accept_unsigned: bool,
}

impl std::fmt::Debug for LinkSigning {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigning")
            .field("accept_unsigned", &self.accept_unsigned)
            .finish_non_exhaustive()
    }
}

impl LinkSigning {
    /// Reads a key written as 64 hex digits (whitespace around is ignored).
    pub fn key_from_hex(text: &str) -> Result<[u8; 32], String> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(format!(
                "a MAVLink signing key is 64 hex digits, got {} characters",
                text.len()
            ));
        }
        let mut key = [0u8; 32];
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).map_err(|_| {
                format!(
                    "signing key: not a hex digit pair at position {}",
                    index * 2
                )
            })?;
        }
        Ok(key)
    }
}

/// One MAVLink link, shared by the receiver, the heartbeat and the command
/// and mission protocols.
pub struct MavlinkLink {
    address: String,
    transport: Transport,
    codec: FrameCodec,
}

enum Transport {
    /// UDP (`udpin:`/`udpout:`): one datagram is scanned as a whole.
    Udp(Box<UdpLink>),
    /// TCP and serial: a byte stream, scanned as it arrives and reopened
    /// when it breaks.
    Stream(Box<StreamLink>),
}

/// What every transport does the same way: numbering and signing what the
/// bridge sends, and checking and counting what it receives, so bytes
/// refused on a serial port are accounted for exactly as on UDP.
struct FrameCodec {
    sequence: AtomicU8,
    #[cfg(feature = "signing")]
    signing: Option<mavlink::SigningData>,
    tally: Mutex<InputTally>,
}

impl FrameCodec {
    fn new(signing: Option<&LinkSigning>) -> FrameCodec {
        #[cfg(not(feature = "signing"))]
        let _ = signing;
        FrameCodec {
            sequence: AtomicU8::new(0),
            // Link id 0: the bridge has one link to its autopilot.
            #[cfg(feature = "signing")]
            signing: signing.map(|signing| {
                mavlink::SigningData::from_config(mavlink::SigningConfig::new(
                    signing.secret_key,
                    0,
                    true,
                    signing.accept_unsigned,
                ))
            }),
            tally: Mutex::new(InputTally::default()),
        }
    }

    fn encode(&self, mut header: MavHeader, message: &MavMessage) -> Result<Vec<u8>, String> {
        header.sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut bytes = Vec::with_capacity(64);
        #[cfg(feature = "signing")]
        if let Some(signing) = &self.signing {
            mavlink::write_v2_msg_signed(&mut bytes, header, message, Some(signing))
                .map_err(|error| error.to_string())?;
            return Ok(bytes);
        }
        mavlink::write_v2_msg(&mut bytes, header, message).map_err(|error| error.to_string())?;
        Ok(bytes)
    }

    /// The link's signature check (everything passes without signing).
    fn accepts(&self, raw: &MAVLinkMessageRaw) -> bool {
        #[cfg(feature = "signing")]
        match (&self.signing, raw) {
            (None, _) => true,
            (Some(signing), MAVLinkMessageRaw::V2(frame)) => signing.verify_signature(frame),
            // MAVLink 1 cannot be signed.
            (Some(_), MAVLinkMessageRaw::V1(_)) => false,
        }
        #[cfg(not(feature = "signing"))]
        {
            let _ = raw;
            true
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, InputTally> {
        // A poisoned lock only means a panic elsewhere mid-count.
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The accepted frames of one datagram; the rest is counted.
    fn read_datagram(&self, datagram: &[u8]) -> (Vec<(MavHeader, MavMessage)>, InputTally) {
        let mut tally = self.tally();
        let frames = read_frames_accepted(datagram, &mut tally, |raw| self.accepts(raw));
        (frames, *tally)
    }

    /// The accepted frames completed by the next piece of a stream (or,
    /// with `bytes` = None, what the broken stream still held).
    fn read_stream(
        &self,
        scanner: &mut StreamScanner,
        bytes: Option<&[u8]>,
    ) -> (Vec<(MavHeader, MavMessage)>, InputTally) {
        let mut tally = self.tally();
        let frames = match bytes {
            Some(bytes) => scanner.push(bytes, &mut tally, |raw| self.accepts(raw)),
            None => scanner.finish(&mut tally, |raw| self.accepts(raw)),
        };
        (frames, *tally)
    }
}

/// A warning about refused bytes at most this often; every refusal is
/// counted and logged at debug level.
const REFUSAL_WARNING_PERIOD: Duration = Duration::from_secs(10);

/// Logs refusals as the tally grows: each at debug level, and a warning
/// with the running totals at most every [`REFUSAL_WARNING_PERIOD`], so a
/// noisy radio cannot flood the log.
#[derive(Default)]
struct RefusalLog {
    refusals_seen: u64,
    last_warning: Option<Instant>,
}

impl RefusalLog {
    fn note(&mut self, link: &str, peer: &dyn std::fmt::Display, tally: &InputTally) {
        if tally.refusals() <= self.refusals_seen {
            return;
        }
        self.refusals_seen = tally.refusals();
        tracing::debug!(link, %peer, ?tally, "refused bytes or frames on the MAVLink link");
        if self
            .last_warning
            .is_none_or(|at| at.elapsed() >= REFUSAL_WARNING_PERIOD)
        {
            self.last_warning = Some(Instant::now());
            tracing::warn!(
                link,
                %peer,
                skipped_bytes_total = tally.skipped_bytes,
                unparsable_frames_total = tally.unparsable_frames,
                rejected_frames_total = tally.rejected_frames,
                "MAVLink link carries bytes that are not valid frames for this bridge; dropped and counted"
            );
        }
    }
}

struct UdpLink {
    socket: tokio::net::UdpSocket,
    /// udpout: the autopilot's address; udpin: whoever last sent a frame
    /// that passed the checks (like the crate's udpin).
    peer: Mutex<Option<SocketAddr>>,
    learns_peer: bool,
}

impl UdpLink {
    async fn open(scheme: &str, target: &str, address: &str) -> Result<UdpLink, LinkError> {
        let open_error = |source: std::io::Error| LinkError::Open {
            address: address.to_owned(),
            source,
        };
        let resolved = tokio::net::lookup_host(target)
            .await
            .map_err(open_error)?
            .next()
            .ok_or_else(|| open_error(std::io::Error::other("address resolves to nothing")))?;
        let (socket, peer, learns_peer) = if scheme == "udpin" {
            let socket = tokio::net::UdpSocket::bind(resolved)
                .await
                .map_err(open_error)?;
            (socket, None, true)
        } else {
            let local: SocketAddr = if resolved.is_ipv6() {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let socket = tokio::net::UdpSocket::bind(local)
                .await
                .map_err(open_error)?;
            (socket, Some(resolved), false)
        };
        Ok(UdpLink {
            socket,
            peer: Mutex::new(peer),
            learns_peer,
        })
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let peer = *self.peer.lock().unwrap_or_else(|p| p.into_inner());
        // udpin before the autopilot has spoken: nobody to send to yet.
        let Some(peer) = peer else { return Ok(()) };
        self.socket
            .send_to(bytes, peer)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

type StreamReader = Box<dyn AsyncRead + Send + Unpin>;
type StreamWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// Where a byte-stream link comes from, so it can be opened again.
enum StreamEndpoint {
    /// `tcpout:`: the bridge connects to the autopilot.
    TcpOut(String),
    /// `tcpin:`: the autopilot (or a serial-to-TCP adapter) connects; the
    /// listener stays open so the next connection is taken after a break.
    TcpIn(tokio::net::TcpListener),
    /// `serial:PORT:BAUD`, 8N1 without flow control as autopilots use.
    #[cfg(feature = "serial")]
    Serial { port: String, baud: u32 },
}

impl StreamEndpoint {
    async fn parse(scheme: &str, target: &str, address: &str) -> Result<Self, LinkError> {
        let open_error = |source: std::io::Error| LinkError::Open {
            address: address.to_owned(),
            source,
        };
        match scheme {
            "tcpout" => Ok(StreamEndpoint::TcpOut(target.to_owned())),
            "tcpin" => Ok(StreamEndpoint::TcpIn(
                tokio::net::TcpListener::bind(target)
                    .await
                    .map_err(open_error)?,
            )),
            #[cfg(feature = "serial")]
            "serial" => {
                let baud = target
                    .rsplit_once(':')
                    .and_then(|(port, baud)| Some((port, baud.parse::<u32>().ok()?)));
                match baud {
                    Some((port, baud)) => Ok(StreamEndpoint::Serial {
                        port: port.to_owned(),
                        baud,
                    }),
                    None => Err(open_error(std::io::Error::other(
                        "a serial link is serial:PORT:BAUD",
                    ))),
                }
            }
            _ => Err(open_error(std::io::Error::other(
                "unknown MAVLink link scheme",
            ))),
        }
    }

    /// Connects (or waits for the next connection) and returns both halves
    /// and who is at the other end.
    async fn open(&self) -> std::io::Result<(StreamReader, StreamWriter, String)> {
        match self {
            StreamEndpoint::TcpOut(target) => {
                let stream = tokio::net::TcpStream::connect(target.as_str()).await?;
                // Frames are small and latency matters more than packing.
                stream.set_nodelay(true)?;
                let peer = stream.peer_addr()?.to_string();
                let (reader, writer) = stream.into_split();
                Ok((Box::new(reader), Box::new(writer), peer))
            }
            StreamEndpoint::TcpIn(listener) => {
                let (stream, peer) = listener.accept().await?;
                stream.set_nodelay(true)?;
                let (reader, writer) = stream.into_split();
                Ok((Box::new(reader), Box::new(writer), peer.to_string()))
            }
            #[cfg(feature = "serial")]
            StreamEndpoint::Serial { port, baud } => {
                use tokio_serial::{SerialPort, SerialPortBuilderExt};
                let mut serial = tokio_serial::new(port, *baud)
                    .open_native_async()
                    .map_err(std::io::Error::from)?;
                serial.set_data_bits(tokio_serial::DataBits::Eight)?;
                serial.set_parity(tokio_serial::Parity::None)?;
                serial.set_stop_bits(tokio_serial::StopBits::One)?;
                serial.set_flow_control(tokio_serial::FlowControl::None)?;
                let (reader, writer) = tokio::io::split(serial);
                Ok((Box::new(reader), Box::new(writer), port.clone()))
            }
        }
    }
}

struct StreamLink {
    endpoint: StreamEndpoint,
    /// The sending half of the open stream; None while it is reopened.
    writer: tokio::sync::Mutex<Option<StreamWriter>>,
    /// The receiving half opened with the link, if it could be, until the
    /// receiver takes it; later ones the receiver opens itself.
    first_reader: Mutex<Option<(StreamReader, String)>>,
}

impl MavlinkLink {
    /// Opens the link; see [`validate_address`] for the address forms.
    /// A `tcpin` port is bound here and a `tcpout` or serial link tried
    /// once; an autopilot not there yet (still booting, USB adapter not yet
    /// enumerated) is waited for by [`MavlinkLink::receive`], while the
    /// bridge already reports the link as down.
    pub async fn open(
        address: &str,
        signing: Option<LinkSigning>,
    ) -> Result<Arc<MavlinkLink>, LinkError> {
        let (scheme, target) = address.split_once(':').unwrap_or(("", address));
        let transport = if scheme.starts_with("udp") {
            Transport::Udp(Box::new(UdpLink::open(scheme, target, address).await?))
        } else {
            let endpoint = StreamEndpoint::parse(scheme, target, address).await?;
            let (writer, first_reader) = match &endpoint {
                // Accepting would hold up the whole bridge until the
                // autopilot connects.
                StreamEndpoint::TcpIn(_) => (None, None),
                _ => match endpoint.open().await {
                    Ok((reader, writer, peer)) => (Some(writer), Some((reader, peer))),
                    Err(error) => {
                        tracing::warn!(link = address, %error, "MAVLink link not reachable yet; retrying");
                        (None, None)
                    }
                },
            };
            Transport::Stream(Box::new(StreamLink {
                endpoint,
                writer: tokio::sync::Mutex::new(writer),
                first_reader: Mutex::new(first_reader),
            }))
        };
        Ok(Arc::new(MavlinkLink {
            address: address.to_owned(),
            transport,
            codec: FrameCodec::new(signing.as_ref()),
        }))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Frames that arrived intact but did not parse (unknown message or enum
    /// value for this dialect, bad length).
    pub fn unparsable_frames(&self) -> u64 {
        self.codec.tally().unparsable_frames
    }

    /// What the link has received and refused so far: every byte is either
    /// in an accepted frame or counted, whatever the transport.
    pub fn input_tally(&self) -> InputTally {
        *self.codec.tally()
    }

    pub async fn send(&self, message: &MavMessage) -> Result<(), LinkError> {
        let header = MavHeader {
            system_id: u32::from(BRIDGE_SYSTEM_ID),
            component_id: BRIDGE_COMPONENT_ID,
            sequence: 0, // the codec numbers frames itself
        };
        self.send_as(header, message).await
    }

    /// Sends a frame under another sender's header: the ground-station
    /// tunnel passes frames on as their ground station wrote them.
    pub async fn send_as(&self, header: MavHeader, message: &MavMessage) -> Result<(), LinkError> {
        let send_error = |reason: String| LinkError::Send {
            address: self.address.clone(),
            message: mavlink::Message::message_name(message),
            reason,
        };
        let bytes = self.codec.encode(header, message).map_err(send_error)?;
        match &self.transport {
            Transport::Udp(udp) => udp.send(&bytes).await.map_err(send_error),
            Transport::Stream(stream) => {
                let mut writer = stream.writer.lock().await;
                let Some(open) = writer.as_mut() else {
                    return Err(LinkError::Down {
                        address: self.address.clone(),
                        message: mavlink::Message::message_name(message),
                    });
                };
                open.write_all(&bytes)
                    .await
                    .map_err(|error| send_error(error.to_string()))
            }
        }
    }

    /// Receives until `shutdown`, forwarding each accepted frame. What is
    /// refused is counted and logged; a broken TCP or serial link is
    /// reopened.
    pub async fn receive(
        self: Arc<Self>,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        match &self.transport {
            Transport::Udp(udp) => self.receive_udp(udp, frames, shutdown).await,
            Transport::Stream(stream) => self.receive_stream(stream, frames, shutdown).await,
        }
    }

    async fn receive_udp(
        &self,
        udp: &UdpLink,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        let mut datagram = vec![0u8; 65_536];
        let mut refusals = RefusalLog::default();
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                received = udp.socket.recv_from(&mut datagram) => received,
            };
            let (len, from) = match received {
                Ok(received) => received,
                Err(error) => {
                    // e.g. ICMP port unreachable while the autopilot boots.
                    tracing::debug!(link = %self.address, %error, "MAVLink UDP receive failed");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                    continue;
                }
            };
            let (accepted, tally) = self.codec.read_datagram(&datagram[..len]);
            refusals.note(&self.address, &from, &tally);
            if udp.learns_peer && !accepted.is_empty() {
                *udp.peer.lock().unwrap_or_else(|p| p.into_inner()) = Some(from);
            }
            for frame in accepted {
                if frames.send(frame).await.is_err() {
                    return; // the state task has stopped: we are shutting down
                }
            }
        }
    }

    async fn receive_stream(
        &self,
        stream: &StreamLink,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        let mut refusals = RefusalLog::default();
        let mut buffer = vec![0u8; 4096];
        let first = stream
            .first_reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let opened = match first {
            Some(first) => Some(first),
            None => self.reopen(stream, &shutdown, false).await,
        };
        let Some((mut reader, mut peer)) = opened else {
            return;
        };
        loop {
            // Each connection starts a fresh stream: a frame torn by the
            // break cannot continue on the next one.
            let mut scanner = StreamScanner::new();
            loop {
                let read = tokio::select! {
                    () = shutdown.cancelled() => return,
                    read = reader.read(&mut buffer) => read,
                };
                let piece = match read {
                    Ok(0) => None,
                    Ok(len) => Some(&buffer[..len]),
                    Err(ref error) => {
                        tracing::warn!(link = %self.address, %error, "MAVLink link read failed");
                        None
                    }
                };
                let ended = piece.is_none();
                let (accepted, tally) = self.codec.read_stream(&mut scanner, piece);
                refusals.note(&self.address, &peer, &tally);
                for frame in accepted {
                    if frames.send(frame).await.is_err() {
                        return; // the state task has stopped: we are shutting down
                    }
                }
                if ended {
                    break;
                }
            }
            tracing::warn!(link = %self.address, %peer, "MAVLink link closed; reopening");
            *stream.writer.lock().await = None;
            let Some((next_reader, next_peer)) = self.reopen(stream, &shutdown, true).await else {
                return;
            };
            reader = next_reader;
            peer = next_peer;
        }
    }

    /// Opens a TCP or serial link (again), retrying every second until it
    /// works or `shutdown`; installs the new sending half and returns the
    /// receiving one. After a break it first waits a second, so a link
    /// that fails at once is not hammered.
    async fn reopen(
        &self,
        stream: &StreamLink,
        shutdown: &CancellationToken,
        after_break: bool,
    ) -> Option<(StreamReader, String)> {
        let mut wait_first = after_break;
        loop {
            if wait_first {
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    () = tokio::time::sleep(RECONNECT_BACKOFF) => {}
                }
            }
            wait_first = true;
            let opened = tokio::select! {
                () = shutdown.cancelled() => return None,
                opened = stream.endpoint.open() => opened,
            };
            match opened {
                Ok((reader, writer, peer)) => {
                    *stream.writer.lock().await = Some(writer);
                    tracing::info!(link = %self.address, %peer, "MAVLink link open");
                    return Some((reader, peer));
                }
                Err(error) => {
                    tracing::warn!(link = %self.address, %error, "MAVLink link still down")
                }
            }
        }
    }

    /// Sends our HEARTBEAT at 1 Hz. On `udpout` links this is also what makes
    /// the autopilot start streaming to us. It runs from the same runtime as
    /// the receiver, so it stops when the bridge does (a heartbeat from a
    /// hung bridge would hide its failure from the autopilot's failsafe).
    pub async fn heartbeat(self: Arc<Self>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(HEARTBEAT_PERIOD);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match self.send(&bridge_heartbeat()).await {
                Ok(()) => {}
                // The receiver already said so, and says when it is back.
                Err(error @ LinkError::Down { .. }) => {
                    tracing::debug!(%error, "bridge heartbeat not sent")
                }
                Err(error) => tracing::warn!(%error, "bridge heartbeat not sent"),
            }
        }
    }
}

/// Checks a link address before opening it: a known scheme, and serial
/// only when built with the `serial` feature.
pub fn validate_address(address: &str) -> Result<(), crate::BridgeError> {
    let bad = |reason: String| Err(crate::BridgeError::InvalidConfig(reason));
    let Some((scheme, rest)) = address.split_once(':') else {
        return bad(format!(
            "MAVLink address `{address}` must start with udpout:, udpin:, tcpout:, tcpin: or serial:"
        ));
    };
    match scheme {
        "udpout" | "udpin" | "tcpout" | "tcpin" if rest.rsplit_once(':').is_some() => Ok(()),
        "serial" if !cfg!(feature = "serial") => bad(
            "this bridge was built without the `serial` feature; serial links are unavailable"
                .into(),
        ),
        "serial" => match rest.rsplit_once(':').map(|(_, baud)| baud.parse::<u32>()) {
            Some(Ok(baud)) if baud > 0 => Ok(()),
            _ => bad(format!(
                "serial address `{address}` must be serial:PORT:BAUD, e.g. serial:/dev/ttyAMA0:921600"
            )),
        },
        _ => bad(format!(
            "MAVLink address `{address}` must start with udpout:, udpin:, tcpout:, tcpin: or serial: and end with :PORT"
        )),
    }
}

/// The bridge's HEARTBEAT: an onboard controller, not an autopilot, every
/// field explicit (the crate's default base_mode would read as armed).
pub fn bridge_heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0,
        mavtype: MavType::MAV_TYPE_ONBOARD_CONTROLLER,
        autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
        base_mode: MavModeFlag::empty(),
        system_status: MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_heartbeat_is_not_an_armed_autopilot() {
        let MavMessage::HEARTBEAT(heartbeat) = bridge_heartbeat() else {
            unreachable!()
        };
        assert_eq!(heartbeat.autopilot, MavAutopilot::MAV_AUTOPILOT_INVALID);
        assert_eq!(heartbeat.mavtype, MavType::MAV_TYPE_ONBOARD_CONTROLLER);
        assert!(!heartbeat
            .base_mode
            .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED));
    }
}
