//! Helpers shared by the end-to-end tests: a test client that subscribes
//! to one drone's subtree the way the dispatcher does, and a small mission.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use simulator::GeoPoint;
use tokio::sync::mpsc;
use wire::{CommandReply, CommandState, Event, Mission, MissionItem, Status, Telemetry};

pub const DRONE: &str = "d1";
pub const HOME: GeoPoint = GeoPoint {
    lat_deg: 30.505,
    lon_deg: 114.398,
    alt_msl_m: 20.0,
};
/// Generous: the whole mission takes ~2-4 s of wall time at 30x.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn topic(channel: &str) -> String {
    format!("skyshare/v1/drones/{DRONE}/{channel}")
}

/// What the test client has heard, decoded by topic.
#[derive(Debug, Clone)]
pub enum Heard {
    Status(Status),
    Telemetry(Telemetry),
    Event(Event),
    Reply(CommandReply),
}

pub async fn test_client(url: &str) -> (AsyncClient, mpsc::UnboundedReceiver<Heard>) {
    let (host, port) = url
        .strip_prefix("mqtt://")
        .and_then(|rest| rest.rsplit_once(':'))
        .expect("broker url");
    let mut options = MqttOptions::new("test-dispatcher", host, port.parse().unwrap());
    options.set_keep_alive(Duration::from_secs(5));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (heard_tx, heard_rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    client
        .subscribe(format!("skyshare/v1/drones/{DRONE}/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(MqttEvent::Incoming(Packet::Publish(publish))) => {
                    let payload = &publish.payload[..];
                    let channel = publish.topic.rsplit('/').next().unwrap_or_default();
                    let heard = match channel {
                        "status" => Heard::Status(wire::decode(payload).expect("status decodes")),
                        "telemetry" => {
                            Heard::Telemetry(wire::decode(payload).expect("telemetry decodes"))
                        }
                        "events" => Heard::Event(wire::decode(payload).expect("event decodes")),
                        "replies" => Heard::Reply(wire::decode(payload).expect("reply decodes")),
                        _ => continue, // our own commands
                    };
                    if heard_tx.send(heard).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("test client: {error}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    tokio::time::timeout(WAIT, subscribed_rx)
        .await
        .expect("test client subscribes in time")
        .unwrap();
    (client, heard_rx)
}

pub fn survey_mission() -> Mission {
    // ~80 m north-east of home.
    Mission {
        items: vec![
            MissionItem::Takeoff { alt_rel_m: 30.0 },
            MissionItem::Waypoint {
                lat_deg: 30.5055,
                lon_deg: 114.3986,
                alt_rel_m: 30.0,
                hold_s: 1.0,
            },
            MissionItem::CaptureImage,
            MissionItem::ReturnToLaunch,
        ],
    }
}

pub fn distance_m(lat_a: f64, lon_a: f64, lat_b: f64, lon_b: f64) -> f64 {
    let north_m = (lat_a - lat_b).to_radians() * 6_378_137.0;
    let east_m = (lon_a - lon_b).to_radians() * 6_378_137.0 * lat_a.to_radians().cos();
    north_m.hypot(east_m)
}

pub fn states(replies: &[CommandReply]) -> Vec<CommandState> {
    replies.iter().map(|reply| reply.state).collect()
}

/// A TCP forwarder in front of the broker that a test can cut (closing its
/// listener and every connection through it, so the bridge sees the broker
/// vanish and its reconnects refused) and restore on the same port.
pub struct CuttableTcpProxy {
    pub addr: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    running: Option<tokio_util::sync::CancellationToken>,
}

impl CuttableTcpProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = CuttableTcpProxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            running: None,
        };
        proxy.serve(listener);
        proxy
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let token = tokio_util::sync::CancellationToken::new();
        self.running = Some(token.clone());
        let upstream = self.upstream;
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
    }

    pub fn cut(&mut self) {
        if let Some(token) = self.running.take() {
            token.cancel();
        }
    }

    pub async fn restore(&mut self) {
        for _ in 0..50 {
            if let Ok(listener) = tokio::net::TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }
}

/// Listens to a simulated vehicle's own MAVLink stream (independent of the
/// bridge), to know what really happened in the air.
pub async fn watch_vehicle(
    sim: &mut simulator::Simulator,
) -> mpsc::UnboundedReceiver<mavlink::dialects::ardupilotmega::MavMessage> {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let connection = mavlink::connect_async::<mavlink::dialects::ardupilotmega::MavMessage>(
        &format!("udpin:127.0.0.1:{port}"),
    )
    .await
    .expect("vehicle watcher listens");
    sim.stream_to(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    use mavlink::AsyncMavConnection;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match connection.try_recv().await {
                Ok((_, message)) => {
                    if tx.send(message).is_err() {
                        return;
                    }
                }
                Err(mavlink::error::MessageReadError::Io(_)) => return,
                Err(_) => {}
            }
        }
    });
    rx
}

/// Waits until the watched vehicle has armed and then disarmed again: the
/// flight is over.
pub async fn until_flight_over(
    vehicle: &mut mpsc::UnboundedReceiver<mavlink::dialects::ardupilotmega::MavMessage>,
) {
    use mavlink::dialects::ardupilotmega::{MavMessage, MavModeFlag};
    let mut flew = false;
    tokio::time::timeout(WAIT, async {
        loop {
            let Some(MavMessage::HEARTBEAT(heartbeat)) = vehicle.recv().await else {
                continue;
            };
            let armed = heartbeat
                .base_mode
                .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED);
            if armed {
                flew = true;
            } else if flew {
                return;
            }
        }
    })
    .await
    .expect("the vehicle flies and disarms in time");
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "skyshare-bridge-test-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
