//! The MAVLink connection to the autopilot: connecting (and reconnecting a
//! TCP or serial link), sending with the bridge's own identity, receiving
//! with bad bytes and frames skipped and counted, and the bridge's 1 Hz
//! HEARTBEAT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavMessage, MavModeFlag, MavState, MavType, HEARTBEAT_DATA,
};
use mavlink::error::MessageReadError;
use mavlink::{AsyncConnection, AsyncMavConnection, MavHeader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::mavlink_input::{read_frames_accepted, InputTally};

/// Our MAVLink system id: the 245-254 band is where fleet bridges live, away
/// from autopilots (1..) and ground stations (255).
pub const BRIDGE_SYSTEM_ID: u8 = 245;
/// MAV_COMP_ID_ONBOARD_COMPUTER: the bridge runs on the companion computer.
pub const BRIDGE_COMPONENT_ID: u8 = 191;

const HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

type Connection = AsyncConnection<MavMessage>;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot open MAVLink link {address}: {source}")]
    Open {
        address: String,
        #[source]
        source: std::io::Error,
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
    signing: Option<LinkSigning>,
    transport: Transport,
    unparsable_frames: AtomicU64,
}

enum Transport {
    /// UDP (`udpin:`/`udpout:`): the bridge's own socket, read through the
    /// fuzzed frame scanner so every byte is either in a frame or counted.
    Udp(Box<UdpLink>),
    /// TCP and serial: the `mavlink` crate's connection, swapped when the
    /// link is re-established. Bytes failing the CRC are dropped inside it
    /// uncounted; frames that do not parse are counted.
    Connection(RwLock<Arc<Connection>>),
}

struct UdpLink {
    socket: tokio::net::UdpSocket,
    /// udpout: the autopilot's address; udpin: whoever last sent a frame
    /// that passed the checks (like the crate's udpin).
    peer: Mutex<Option<SocketAddr>>,
    learns_peer: bool,
    sequence: AtomicU8,
    #[cfg(feature = "signing")]
    signing: Option<mavlink::SigningData>,
    tally: Mutex<InputTally>,
}

/// A warning about refused bytes at most this often; every refusal is
/// counted and logged at debug level.
const REFUSAL_WARNING_PERIOD: Duration = Duration::from_secs(10);

impl UdpLink {
    async fn open(address: &str, signing: Option<&LinkSigning>) -> Result<UdpLink, LinkError> {
        let open_error = |source: std::io::Error| LinkError::Open {
            address: address.to_owned(),
            source,
        };
        let (scheme, target) = address.split_once(':').unwrap_or(("", address));
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
        #[cfg(not(feature = "signing"))]
        let _ = signing;
        Ok(UdpLink {
            socket,
            peer: Mutex::new(peer),
            learns_peer,
            sequence: AtomicU8::new(0),
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
        })
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

    async fn send(&self, header: MavHeader, message: &MavMessage) -> Result<(), String> {
        let peer = *self.peer.lock().unwrap_or_else(|p| p.into_inner());
        // udpin before the autopilot has spoken: nobody to send to yet.
        let Some(peer) = peer else { return Ok(()) };
        let bytes = self.encode(header, message)?;
        self.socket
            .send_to(&bytes, peer)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// The frames of one datagram that pass framing, CRC, parsing and (with
    /// signing) the signature check; everything else is counted.
    fn accept(
        &self,
        datagram: &[u8],
        from: SocketAddr,
    ) -> (Vec<(MavHeader, MavMessage)>, InputTally) {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        #[cfg(feature = "signing")]
        let frames = read_frames_accepted(datagram, &mut tally, |raw| match (&self.signing, raw) {
            (None, _) => true,
            (Some(signing), mavlink::MAVLinkMessageRaw::V2(frame)) => {
                signing.verify_signature(frame)
            }
            // MAVLink 1 cannot be signed.
            (Some(_), mavlink::MAVLinkMessageRaw::V1(_)) => false,
        });
        #[cfg(not(feature = "signing"))]
        let frames = read_frames_accepted(datagram, &mut tally, |_| true);
        if self.learns_peer && !frames.is_empty() {
            *self.peer.lock().unwrap_or_else(|p| p.into_inner()) = Some(from);
        }
        (frames, *tally)
    }
}

impl MavlinkLink {
    /// Opens the link; see [`validate_address`] for the address forms.
    pub async fn open(
        address: &str,
        signing: Option<LinkSigning>,
    ) -> Result<Arc<MavlinkLink>, LinkError> {
        let transport = if address.starts_with("udp") {
            Transport::Udp(Box::new(UdpLink::open(address, signing.as_ref()).await?))
        } else {
            let connection = connect(address, signing.as_ref()).await?;
            Transport::Connection(RwLock::new(Arc::new(connection)))
        };
        Ok(Arc::new(MavlinkLink {
            address: address.to_owned(),
            signing,
            transport,
            unparsable_frames: AtomicU64::new(0),
        }))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Frames that arrived intact but did not parse (unknown message or enum
    /// value for this dialect, bad length).
    pub fn unparsable_frames(&self) -> u64 {
        match &self.transport {
            Transport::Udp(udp) => {
                udp.tally
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .unparsable_frames
            }
            Transport::Connection(_) => self.unparsable_frames.load(Ordering::Relaxed),
        }
    }

    /// What the link has refused so far (on UDP: every byte accounted for).
    pub fn input_tally(&self) -> Option<InputTally> {
        match &self.transport {
            Transport::Udp(udp) => Some(*udp.tally.lock().unwrap_or_else(|p| p.into_inner())),
            Transport::Connection(_) => None,
        }
    }

    fn current(&self) -> Option<Arc<Connection>> {
        match &self.transport {
            // A poisoned lock only means a panic elsewhere mid-swap; the Arc
            // inside is still whole.
            Transport::Connection(connection) => Some(
                connection
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone(),
            ),
            Transport::Udp(_) => None,
        }
    }

    pub async fn send(&self, message: &MavMessage) -> Result<(), LinkError> {
        let header = MavHeader {
            system_id: u32::from(BRIDGE_SYSTEM_ID),
            component_id: BRIDGE_COMPONENT_ID,
            sequence: 0, // the transport numbers frames itself
        };
        self.send_as(header, message).await
    }

    /// Sends a frame under another sender's header: the ground-station
    /// tunnel passes frames on as their ground station wrote them.
    pub async fn send_as(&self, header: MavHeader, message: &MavMessage) -> Result<(), LinkError> {
        let sent = match (&self.transport, self.current()) {
            (Transport::Udp(udp), _) => udp.send(header, message).await,
            (_, Some(connection)) => connection
                .send(&header, message)
                .await
                .map(|_| ())
                .map_err(|error| error.to_string()),
            (Transport::Connection(_), None) => Ok(()),
        };
        sent.map_err(|reason| LinkError::Send {
            address: self.address.clone(),
            message: mavlink::Message::message_name(message),
            reason,
        })
    }

    /// Receives until `shutdown`, forwarding each parsed frame. What is
    /// refused is counted and logged; a broken TCP or serial link is
    /// reopened.
    pub async fn receive(
        self: Arc<Self>,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        if let Transport::Udp(udp) = &self.transport {
            return self.receive_udp(udp, frames, shutdown).await;
        }
        loop {
            let Some(connection) = self.current() else {
                return;
            };
            let received = tokio::select! {
                () = shutdown.cancelled() => return,
                received = connection.try_recv() => received,
            };
            match received {
                Ok(frame) => {
                    if frames.send(frame).await.is_err() {
                        return; // the state task has stopped: we are shutting down
                    }
                }
                Err(MessageReadError::Parse(error)) => {
                    let total = self.unparsable_frames.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(link = %self.address, %error, total, "skipped unparsable MAVLink frame");
                }
                Err(MessageReadError::Io(error)) => {
                    tracing::warn!(link = %self.address, %error, "MAVLink link read failed");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(RECONNECT_BACKOFF) => {}
                    }
                    // A TCP stream or a serial port (unplugged adapter)
                    // must be reopened.
                    self.reconnect(&shutdown).await;
                }
            }
        }
    }

    async fn receive_udp(
        &self,
        udp: &UdpLink,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        let mut datagram = vec![0u8; 65_536];
        let mut refusals_seen = 0;
        let mut last_warning: Option<std::time::Instant> = None;
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
            let (accepted, tally) = udp.accept(&datagram[..len], from);
            if tally.refusals() > refusals_seen {
                refusals_seen = tally.refusals();
                tracing::debug!(link = %self.address, %from, ?tally, "refused bytes or frames on the MAVLink link");
                if last_warning.is_none_or(|at| at.elapsed() >= REFUSAL_WARNING_PERIOD) {
                    last_warning = Some(std::time::Instant::now());
                    tracing::warn!(
                        link = %self.address,
                        %from,
                        skipped_bytes_total = tally.skipped_bytes,
                        unparsable_frames_total = tally.unparsable_frames,
                        rejected_frames_total = tally.rejected_frames,
                        "MAVLink link carries bytes that are not valid frames for this bridge; dropped and counted"
                    );
                }
            }
            for frame in accepted {
                if frames.send(frame).await.is_err() {
                    return; // the state task has stopped: we are shutting down
                }
            }
        }
    }

    async fn reconnect(&self, shutdown: &CancellationToken) {
        loop {
            match connect(&self.address, self.signing.as_ref()).await {
                Ok(connection) => {
                    let Transport::Connection(current) = &self.transport else {
                        return; // UDP sockets need no reopening
                    };
                    *current
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(connection);
                    tracing::info!(link = %self.address, "MAVLink link reopened");
                    return;
                }
                Err(error) => tracing::warn!(%error, "MAVLink link still down"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(RECONNECT_BACKOFF) => {}
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
            if let Err(error) = self.send(&bridge_heartbeat()).await {
                tracing::warn!(%error, "bridge heartbeat not sent");
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

async fn connect(address: &str, signing: Option<&LinkSigning>) -> Result<Connection, LinkError> {
    #[allow(unused_mut)] // mutated only with the `signing` feature
    let mut connection = mavlink::connect_async::<MavMessage>(address)
        .await
        .map_err(|source| LinkError::Open {
            address: address.to_owned(),
            source,
        })?;
    if let Some(signing) = signing {
        sign(&mut connection, signing);
    }
    Ok(connection)
}

#[cfg(feature = "signing")]
fn sign(connection: &mut Connection, signing: &LinkSigning) {
    use mavlink::AsyncMavConnection;
    // Link id 0: the bridge has one link to its autopilot.
    connection.setup_signing(Some(mavlink::SigningConfig::new(
        signing.secret_key,
        0,
        true,
        signing.accept_unsigned,
    )));
}

#[cfg(not(feature = "signing"))]
fn sign(_connection: &mut Connection, _signing: &LinkSigning) {
    // BridgeConfig::validate refuses signing without the feature.
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
