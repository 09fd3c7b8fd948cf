//! The ground-station tunnel: raw MAVLink carried over MQTT so a ground
//! station (QGroundControl, MAVProxy) far from the drone can talk to its
//! autopilot through the broker.
//!
//! Bridge side (with `--gcs-tunnel`): every frame heard on the autopilot link
//! goes up on `…/mavlink/up`, batched for a few milliseconds; frames arriving
//! on `…/mavlink/down` go to the autopilot. Down payloads are checked frame
//! by frame (CRC, dialect) and only whole, valid frames are passed on; the
//! rest is dropped and counted. Both directions are QoS 0: MAVLink has its
//! own retries, and stale frames are worse than lost ones.
//!
//! Ground side ([`run_ground_side`], behind `skyshare gcs-tunnel`): a UDP
//! socket that sends the drone's frames to the ground station's address and
//! publishes whatever the ground station sends back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::MavHeader;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wire::{Channel, Topic};

use crate::link::MavlinkLink;
use crate::mavlink_input::{read_frames, InputTally};
use crate::mqtt_session::{parse_mqtt_url, MqttSecurity};
use crate::outbox::Outgoing;
use crate::BridgeError;

/// How long frames going up wait for company before being published.
pub const UP_BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Largest payload going up; a batch is published early when it gets here.
pub const UP_BATCH_BYTES: usize = 16 * 1024;

/// MAVLink 2 bytes of one frame, with the sender's header kept.
pub fn frame_bytes(header: MavHeader, message: &MavMessage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64);
    // Writing into a Vec cannot fail for I/O reasons; a message that cannot
    // be serialised (none in this dialect) is simply not forwarded.
    let _ = mavlink::write_v2_msg(&mut bytes, header, message);
    bytes
}

/// Bridge side, up: batches the autopilot's frames into `…/mavlink/up`
/// payloads.
pub async fn forward_up(
    mut frames: mpsc::Receiver<Vec<u8>>,
    outbox: mpsc::Sender<Outgoing>,
    shutdown: CancellationToken,
) {
    loop {
        let mut batch = tokio::select! {
            () = shutdown.cancelled() => return,
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => return,
            },
        };
        let deadline = tokio::time::Instant::now() + UP_BATCH_WINDOW;
        while batch.len() < UP_BATCH_BYTES {
            match tokio::time::timeout_at(deadline, frames.recv()).await {
                Ok(Some(frame)) => batch.extend_from_slice(&frame),
                Ok(None) | Err(_) => break,
            }
        }
        // A full channel means MQTT is behind: drop, as a radio would.
        let _ = outbox.try_send(Outgoing::MavlinkUp(batch));
    }
}

/// Bridge side, down: passes the ground station's valid frames to the
/// autopilot, keeping their sender (the ground station's system id).
pub async fn forward_down(
    link: Arc<MavlinkLink>,
    mut payloads: mpsc::Receiver<Vec<u8>>,
    shutdown: CancellationToken,
) {
    let mut tally = InputTally::default();
    loop {
        let payload = tokio::select! {
            () = shutdown.cancelled() => return,
            payload = payloads.recv() => match payload {
                Some(payload) => payload,
                None => return,
            },
        };
        let skipped_before = tally.skipped_bytes + tally.unparsable_frames;
        for (header, message) in read_frames(&payload, &mut tally) {
            if let Err(error) = link.send_as(header, &message).await {
                tracing::warn!(%error, "tunnel frame not sent to the autopilot");
            }
        }
        if tally.skipped_bytes + tally.unparsable_frames > skipped_before {
            tracing::warn!(
                skipped_bytes_total = tally.skipped_bytes,
                unparsable_frames_total = tally.unparsable_frames,
                "tunnel payload held bytes that are not valid MAVLink; dropped them"
            );
        }
    }
}

/// Where a ground station's tunnel end connects.
#[derive(Debug, Clone)]
pub struct GroundSideConfig {
    pub mqtt_url: String,
    pub drone: String,
    /// The ground station's MAVLink UDP port, e.g. QGroundControl's
    /// 127.0.0.1:14550.
    pub ground_station: SocketAddr,
    pub security: MqttSecurity,
}

/// Runs the ground side of the tunnel until `shutdown`: the drone's frames
/// go to `ground_station` over UDP, and what the ground station sends back
/// (to the socket's address) goes to the drone.
pub async fn run_ground_side(
    config: GroundSideConfig,
    shutdown: CancellationToken,
) -> Result<(), BridgeError> {
    wire::topic::validate_drone_id(&config.drone).map_err(|reason| {
        BridgeError::InvalidConfig(format!("drone id `{}`: {reason}", config.drone))
    })?;
    let (host, port, tls) = parse_mqtt_url(&config.mqtt_url)?;
    config.security.validate(tls)?;
    let up_topic = Topic::new(config.drone.clone(), Channel::MavlinkUp).name();
    let down_topic = Topic::new(config.drone.clone(), Channel::MavlinkDown).name();
    let local: SocketAddr = if config.ground_station.ip().is_loopback() {
        "127.0.0.1:0".parse().expect("literal address")
    } else {
        "0.0.0.0:0".parse().expect("literal address")
    };
    let socket = UdpSocket::bind(local).await.map_err(|error| {
        BridgeError::InvalidConfig(format!("cannot open a UDP socket for the tunnel: {error}"))
    })?;
    let mut options = MqttOptions::new(
        format!(
            "skyshare-gcs-tunnel-{}-{}",
            config.drone,
            std::process::id()
        ),
        host,
        port,
    );
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = &config.security.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    if tls {
        options.set_transport(crate::mqtt_tls::transport(&config.security)?);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    tracing::info!(drone = %config.drone, ground_station = %config.ground_station, "ground-station tunnel starting");
    let mut datagram = vec![0u8; 65_536];
    let mut tally = InputTally::default();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            polled = eventloop.poll() => match polled {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(drone = %config.drone, "tunnel connected to the broker");
                    if let Err(error) = client.try_subscribe(up_topic.clone(), QoS::AtMostOnce) {
                        tracing::warn!(%error, "cannot subscribe to the drone's MAVLink");
                    }
                }
                Ok(MqttEvent::Incoming(Packet::Publish(publish))) if publish.topic == up_topic => {
                    // One datagram per frame: some ground stations expect it.
                    for (header, message) in read_frames(&publish.payload, &mut tally) {
                        let _ = socket.send_to(&frame_bytes(header, &message), config.ground_station).await;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "tunnel lost the broker; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            received = socket.recv_from(&mut datagram) => match received {
                Ok((len, _from)) => {
                    if client
                        .try_publish(down_topic.clone(), QoS::AtMostOnce, false, datagram[..len].to_vec())
                        .is_err()
                    {
                        tracing::debug!("tunnel busy; ground-station datagram dropped");
                    }
                }
                Err(error) => tracing::debug!(%error, "tunnel UDP receive failed"),
            },
        }
    }
    let _ = client.try_disconnect();
    Ok(())
}
