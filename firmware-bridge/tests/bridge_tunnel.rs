//! The ground-station tunnel end to end: a stand-in ground station on UDP,
//! the tunnel's ground side, the embedded broker, the bridge with
//! `gcs_tunnel` on, and a simulated PX4. The ground station hears the
//! vehicle's HEARTBEAT and gets its command acknowledged, as QGroundControl
//! would through `skyshare gcs-tunnel`.

use std::time::Duration;

mod common;

use common::*;

use firmware_bridge::tunnel::{run_ground_side, GroundSideConfig};
use firmware_bridge::BridgeConfig;
use mavlink::dialects::ardupilotmega::{MavCmd, MavMessage, MavResult, COMMAND_LONG_DATA};
use mavlink::{AsyncMavConnection, MavHeader};
use simulator::{SimConfig, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ground_station_reaches_the_autopilot_through_the_tunnel() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let shutdown = CancellationToken::new();
    let sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: DRONE.into(),
            system_id: 1,
            home: HOME,
            port: 0,
        }],
        speedup: 30.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    })
    .await
    .expect("simulator binds");
    let vehicle = sim.addresses()[0].1;
    tokio::spawn(sim.run(shutdown.clone()));
    let config = BridgeConfig {
        gcs_tunnel: true,
        ..BridgeConfig::new(DRONE, format!("udpout:{vehicle}"), broker.url())
    };
    tokio::spawn(firmware_bridge::run(config, shutdown.clone()));

    // The ground station listens like QGroundControl on its UDP port.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ground_station = mavlink::connect_async::<MavMessage>(&format!("udpin:127.0.0.1:{port}"))
        .await
        .expect("ground station listens");
    tokio::spawn(run_ground_side(
        GroundSideConfig {
            mqtt_url: broker.url(),
            drone: DRONE.into(),
            ground_station: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            security: Default::default(),
        },
        shutdown.clone(),
    ));

    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok((header, MavMessage::HEARTBEAT(_))) = ground_station.try_recv().await {
                if header.system_id == 1 && header.component_id == 1 {
                    return;
                }
            }
        }
    })
    .await
    .expect("the vehicle's HEARTBEAT reaches the ground station");

    // As a ground station does: ask for AUTOPILOT_VERSION, retrying until
    // the COMMAND_ACK arrives (the first send may race the subscriptions).
    let request = MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        param1: 148.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        param5: 0.0,
        param6: 0.0,
        param7: 0.0,
        command: MavCmd::MAV_CMD_REQUEST_MESSAGE,
        target_system: 1,
        target_component: 1,
        confirmation: 0,
    });
    let gcs = MavHeader {
        system_id: 255,
        component_id: 190,
        sequence: 0,
    };
    let acked = tokio::time::timeout(WAIT, async {
        loop {
            ground_station
                .send(&gcs, &request)
                .await
                .expect("ground station sends");
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Ok((_, message))) =
                tokio::time::timeout_at(deadline, ground_station.try_recv()).await
            {
                if let MavMessage::COMMAND_ACK(ack) = message {
                    if ack.command == MavCmd::MAV_CMD_REQUEST_MESSAGE {
                        return ack;
                    }
                }
            }
        }
    })
    .await
    .expect("the autopilot answers the ground station through the tunnel");
    assert!(
        matches!(
            acked.result,
            MavResult::MAV_RESULT_ACCEPTED | MavResult::MAV_RESULT_UNSUPPORTED
        ),
        "{acked:?}"
    );
    shutdown.cancel();
}
