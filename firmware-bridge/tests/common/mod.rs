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
    test_client_with(url, "test-dispatcher", true, None).await
}

/// A dispatcher-like client; `clean_session: false` keeps its subscription
/// and queued messages on a broker that persists sessions across restarts.
pub async fn test_client_with(
    url: &str,
    client_id: &str,
    clean_session: bool,
    credentials: Option<(&str, &str)>,
) -> (AsyncClient, mpsc::UnboundedReceiver<Heard>) {
    let (host, port) = url
        .strip_prefix("mqtt://")
        .and_then(|rest| rest.rsplit_once(':'))
        .expect("broker url");
    let mut options = MqttOptions::new(client_id, host, port.parse().unwrap());
    options.set_keep_alive(Duration::from_secs(5));
    options.set_clean_session(clean_session);
    if let Some((user, password)) = credentials {
        options.set_credentials(user, password);
    }
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (heard_tx, heard_rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    client
        .subscribe("skyshare/v1/drones/+/#", QoS::AtLeastOnce)
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

/// A UDP forwarder between the bridge and a simulated autopilot that drops
/// everything, both ways, while cut: a radio link going out of range.
pub struct CuttableUdpProxy {
    pub addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CuttableUdpProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let front = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let back = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        back.connect(upstream).await.unwrap();
        let addr = front.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_cut = cut.clone();
        tokio::spawn(async move {
            let mut client = None;
            let (mut up, mut down) = (vec![0u8; 2048], vec![0u8; 2048]);
            loop {
                tokio::select! {
                    received = front.recv_from(&mut up) => {
                        let Ok((len, from)) = received else { continue };
                        client = Some(from);
                        if !is_cut.load(Ordering::Relaxed) {
                            let _ = back.send(&up[..len]).await;
                        }
                    }
                    received = back.recv(&mut down) => {
                        let Ok(len) = received else { continue };
                        if let (Some(client), false) = (client, is_cut.load(Ordering::Relaxed)) {
                            let _ = front.send_to(&down[..len], client).await;
                        }
                    }
                }
            }
        });
        CuttableUdpProxy { addr, cut }
    }

    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A private Mosquitto process on a free port, configured by the test.
pub struct Mosquitto {
    child: Option<std::process::Child>,
    pub port: u16,
    config: std::path::PathBuf,
}

impl Mosquitto {
    /// The `mosquitto` binary, if installed (it often lives in /usr/sbin,
    /// outside a normal user's PATH).
    pub fn binary() -> Option<std::path::PathBuf> {
        let in_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        in_path
            .into_iter()
            .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
            .map(|dir: std::path::PathBuf| dir.join("mosquitto"))
            .find(|candidate| candidate.is_file())
    }

    /// Writes `listener` plus `config_body` to `dir/mosquitto.conf` and
    /// starts the broker; `None` (with the reason printed) when it cannot.
    pub fn start(dir: &std::path::Path, config_body: &str) -> Option<Mosquitto> {
        let Some(binary) = Mosquitto::binary() else {
            eprintln!("SKIPPED: the mosquitto binary is not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir_all(dir).unwrap();
        // Started as root, mosquitto drops to its own user, which must still
        // be able to write its persistence file and log here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\n{config_body}\n"),
        )
        .unwrap();
        let mut broker = Mosquitto {
            child: None,
            port,
            config,
        };
        if let Err(reason) = broker.launch(&binary) {
            eprintln!("SKIPPED: mosquitto did not start: {reason}");
            return None;
        }
        Some(broker)
    }

    fn launch(&mut self, binary: &std::path::Path) -> Result<(), String> {
        let child = std::process::Command::new(binary)
            .arg("-c")
            .arg(&self.config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|error| error.to_string())?;
        self.child = Some(child);
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("not listening on port {} after 5 s", self.port))
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// SIGTERM, so it saves its persistent sessions, then wait for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        let binary = Mosquitto::binary().expect("mosquitto was there a moment ago");
        self.launch(&binary).expect("mosquitto restarts");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
