//! A ground station that only listens (QGroundControl on UDP 14550, MAVSDK
//! `udpin://`) still gets the vehicle's streams when the simulator is told
//! its address, and can then command the vehicle like any other peer.

mod common;

use common::{command_long, home, Gcs};
use mavlink::dialects::ardupilotmega::{MavAutopilot, MavCmd, MavMessage, MavResult};
use simulator::{SimConfig, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_listening_ground_station_receives_streams_without_speaking_first() {
    let mut sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: "listened-1".into(),
            system_id: 7,
            home: home(0),
            port: 0,
        }],
        speedup: 1.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    })
    .await
    .unwrap();
    let vehicle = sim.addresses()[0].1;
    let mut gcs = Gcs::connect(vehicle).await;
    sim.stream_to(gcs.socket.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(sim.run(shutdown.clone()));

    // Nothing sent yet: the heartbeat arrives anyway.
    let (system, autopilot) = gcs
        .wait_for("a heartbeat", |header, message| match message {
            MavMessage::HEARTBEAT(hb) => Some((header.system_id, hb.autopilot)),
            _ => None,
        })
        .await;
    assert_eq!(system, 7);
    assert_eq!(autopilot, MavAutopilot::MAV_AUTOPILOT_PX4);

    // And the listener can command it once it speaks.
    gcs.send(&command_long(
        7,
        MavCmd::MAV_CMD_REQUEST_MESSAGE,
        [242.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ))
    .await;
    let result = gcs
        .wait_for("the request's ack", |_, message| match message {
            MavMessage::COMMAND_ACK(ack) if ack.command == MavCmd::MAV_CMD_REQUEST_MESSAGE => {
                Some(ack.result)
            }
            _ => None,
        })
        .await;
    assert_eq!(result, MavResult::MAV_RESULT_ACCEPTED);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
