//! The MAVLink connection to the autopilot: connecting (and reconnecting a
//! TCP link), sending with the bridge's own identity, receiving with bad
//! frames skipped and counted, and the bridge's 1 Hz HEARTBEAT.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavMessage, MavModeFlag, MavState, MavType, HEARTBEAT_DATA,
};
use mavlink::error::MessageReadError;
use mavlink::{AsyncConnection, AsyncMavConnection, MavHeader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    /// Swapped when a TCP link is re-established.
    connection: RwLock<Arc<Connection>>,
    unparsable_frames: AtomicU64,
}

impl MavlinkLink {
    /// Opens the link. `address` is `udpout:host:port`, `udpin:ip:port` or
    /// `tcpout:host:port`.
    pub async fn open(
        address: &str,
        signing: Option<LinkSigning>,
    ) -> Result<Arc<MavlinkLink>, LinkError> {
        let connection = connect(address, signing.as_ref()).await?;
        Ok(Arc::new(MavlinkLink {
            address: address.to_owned(),
            signing,
            connection: RwLock::new(Arc::new(connection)),
            unparsable_frames: AtomicU64::new(0),
        }))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Frames that arrived intact but did not parse (unknown message or enum
    /// value for this dialect, bad length).
    pub fn unparsable_frames(&self) -> u64 {
        self.unparsable_frames.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<Connection> {
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc
        // inside is still whole.
        self.connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub async fn send(&self, message: &MavMessage) -> Result<(), LinkError> {
        let header = MavHeader {
            system_id: u32::from(BRIDGE_SYSTEM_ID),
            component_id: BRIDGE_COMPONENT_ID,
            sequence: 0, // the connection numbers frames itself
        };
        self.current()
            .send(&header, message)
            .await
            .map(|_| ())
            .map_err(|error| LinkError::Send {
                address: self.address.clone(),
                message: mavlink::Message::message_name(message),
                reason: error.to_string(),
            })
    }

    /// Sends a frame under another sender's header: the ground-station
    /// tunnel passes frames on as their ground station wrote them.
    pub async fn send_as(&self, header: MavHeader, message: &MavMessage) -> Result<(), LinkError> {
        self.current()
            .send(&header, message)
            .await
            .map(|_| ())
            .map_err(|error| LinkError::Send {
                address: self.address.clone(),
                message: mavlink::Message::message_name(message),
                reason: error.to_string(),
            })
    }

    /// Receives until `shutdown`, forwarding each parsed frame. Frames that
    /// fail to parse are skipped and counted; a broken TCP link is reopened.
    pub async fn receive(
        self: Arc<Self>,
        frames: mpsc::Sender<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        loop {
            let connection = self.current();
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
                    // UDP sockets survive errors; a TCP stream or a serial
                    // port (unplugged adapter) must be reopened.
                    if self.address.starts_with("tcp") || self.address.starts_with("serial") {
                        self.reconnect(&shutdown).await;
                    }
                }
            }
        }
    }

    async fn reconnect(&self, shutdown: &CancellationToken) {
        loop {
            match connect(&self.address, self.signing.as_ref()).await {
                Ok(connection) => {
                    *self
                        .connection
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
