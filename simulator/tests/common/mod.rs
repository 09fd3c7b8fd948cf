//! A minimal ground station for the integration tests: real MAVLink 2 over a
//! real UDP socket, using the mavlink crate for encoding and decoding.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavCmd, MavMessage, MavModeFlag, MavState, MavType, COMMAND_ACK_DATA,
    COMMAND_LONG_DATA, HEARTBEAT_DATA,
};
use mavlink::{MavHeader, MavlinkReader, MavlinkVersion};
use simulator::{GeoPoint, SimConfig, Simulator, VehicleSpec};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const GCS_SYSTEM_ID: u8 = 245;
pub const GCS_COMPONENT_ID: u8 = 190;
/// Upper bound for anything the tests wait for; generous for loaded CI machines.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn home(index: usize) -> GeoPoint {
    GeoPoint {
        lat_deg: 30.505,
        lon_deg: 114.398,
        alt_msl_m: 20.0,
    }
    .offset_m(index as f64 * 4.0, 0.0)
}

pub struct Fleet {
    pub addresses: Vec<SocketAddr>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), simulator::SimError>>,
}

impl Fleet {
    pub async fn start(vehicles: usize, speedup: f64) -> Fleet {
        let config = SimConfig {
            vehicles: (0..vehicles)
                .map(|index| VehicleSpec {
                    name: format!("drone-{}", index + 1),
                    system_id: (index + 1) as u8,
                    home: home(index),
                    port: 0,
                })
                .collect(),
            speedup,
            bind_ip: "127.0.0.1".parse().expect("ip"),
        };
        let simulator = Simulator::bind(config).await.expect("bind");
        let addresses = simulator
            .addresses()
            .into_iter()
            .map(|(_, address)| address)
            .collect();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(simulator.run(shutdown.clone()));
        Fleet {
            addresses,
            shutdown,
            task,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let outcome = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("simulator stops when cancelled")
            .expect("simulator task did not panic");
        outcome.expect("simulator ran without error");
    }
}

pub struct Gcs {
    pub socket: UdpSocket,
    pub vehicle: SocketAddr,
    sequence: u8,
}

impl Gcs {
    pub async fn connect(vehicle: SocketAddr) -> Gcs {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind gcs");
        Gcs {
            socket,
            vehicle,
            sequence: 0,
        }
    }

    pub fn encode(&mut self, message: &MavMessage) -> Vec<u8> {
        let header = MavHeader {
            system_id: u32::from(GCS_SYSTEM_ID),
            component_id: GCS_COMPONENT_ID,
            sequence: self.sequence,
        };
        self.sequence = self.sequence.wrapping_add(1);
        let mut bytes = Vec::new();
        mavlink::write_v2_msg(&mut bytes, header, message).expect("encode");
        bytes
    }

    pub async fn send(&mut self, message: &MavMessage) {
        let bytes = self.encode(message);
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, self.vehicle)
            .await
            .expect("send to vehicle");
    }

    pub async fn heartbeat(&mut self) {
        self.send(&MavMessage::HEARTBEAT(HEARTBEAT_DATA {
            custom_mode: 0,
            mavtype: MavType::MAV_TYPE_GCS,
            autopilot: MavAutopilot::MAV_AUTOPILOT_INVALID,
            base_mode: MavModeFlag::empty(),
            system_status: MavState::MAV_STATE_ACTIVE,
            mavlink_version: 3,
        }))
        .await;
    }

    /// Next datagram from the vehicle, undecoded.
    pub async fn recv_raw(&self) -> Vec<u8> {
        let mut buffer = vec![0u8; 2048];
        let (length, from) = tokio::time::timeout(WAIT, self.socket.recv_from(&mut buffer))
            .await
            .expect("vehicle went silent")
            .expect("receive");
        assert_eq!(from, self.vehicle, "only the vehicle talks to us");
        buffer.truncate(length);
        buffer
    }

    /// Next message the mavlink crate can decode (others are skipped).
    pub async fn recv(&self) -> (MavHeader, MavMessage) {
        loop {
            let datagram = self.recv_raw().await;
            let mut reader = MavlinkReader::new(&datagram[..]);
            if let Ok(decoded) = reader.read_message::<MavMessage>(MavlinkVersion::V2) {
                return decoded;
            }
        }
    }

    /// Whether the vehicle's next HEARTBEAT says it is armed.
    pub async fn next_heartbeat_is_armed(&self) -> bool {
        self.wait_for("HEARTBEAT", |_, message| match message {
            MavMessage::HEARTBEAT(data) => Some(
                data.base_mode
                    .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED),
            ),
            _ => None,
        })
        .await
    }

    /// Wait until `select` picks a message, failing after [`WAIT`].
    pub async fn wait_for<T>(
        &self,
        what: &str,
        mut select: impl FnMut(&MavHeader, &MavMessage) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = tokio::time::timeout_at(deadline, self.recv()).await;
            let Ok((header, message)) = received else {
                panic!("timed out waiting for {what}");
            };
            if let Some(found) = select(&header, &message) {
                return found;
            }
        }
    }

    pub async fn command(
        &mut self,
        target_system: u8,
        command: MavCmd,
        params: [f32; 7],
    ) -> COMMAND_ACK_DATA {
        self.send(&command_long(target_system, command, params))
            .await;
        self.wait_for("COMMAND_ACK", |_, message| match message {
            MavMessage::COMMAND_ACK(ack) if ack.command == command => Some(ack.clone()),
            _ => None,
        })
        .await
    }
}

pub fn command_long(target_system: u8, command: MavCmd, params: [f32; 7]) -> MavMessage {
    MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        param1: params[0],
        param2: params[1],
        param3: params[2],
        param4: params[3],
        param5: params[4],
        param6: params[5],
        param7: params[6],
        command,
        target_system,
        target_component: 1,
        confirmation: 0,
    })
}
