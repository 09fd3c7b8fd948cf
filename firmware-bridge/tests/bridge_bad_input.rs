//! Bad input from the broker never reaches the autopilot: every malformed
//! or invalid command payload, and garbage on the ground-station tunnel, is
//! refused (with a reply where there is an id to answer) and the autopilot
//! hears nothing from the bridge but its HEARTBEAT. The autopilot is a
//! stand-in on UDP that records every frame the bridge sends it.

mod common;

use common::*;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firmware_bridge::command_intake::read_command;
use firmware_bridge::mavlink_input::{read_frames, InputTally};
use firmware_bridge::BridgeConfig;
use mavlink::dialects::ardupilotmega::*;
use mavlink::{MavHeader, Message};
use rumqttc::QoS;
use tokio_util::sync::CancellationToken;
use wire::CommandState;

fn frame_bytes(system_id: u8, message: &MavMessage) -> Vec<u8> {
    let mut bytes = Vec::new();
    let header = MavHeader {
        system_id: u32::from(system_id),
        component_id: 1,
        sequence: 0,
    };
    mavlink::write_v2_msg(&mut bytes, header, message).unwrap();
    bytes
}

fn px4_heartbeat() -> MavMessage {
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0x0304_0000,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
        system_status: MavState::MAV_STATE_STANDBY,
        mavlink_version: 3,
    })
}

/// A PX4 stand-in: HEARTBEATs to the bridge every 200 ms, and a record of
/// every message the bridge sends back (by name, with its sender).
fn stand_in_autopilot(
    socket: tokio::net::UdpSocket,
    bridge_port: u16,
    stop: CancellationToken,
) -> Arc<Mutex<Vec<(u32, &'static str)>>> {
    let socket = Arc::new(socket);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sender = socket.clone();
    let sending = stop.clone();
    tokio::spawn(async move {
        while !sending.is_cancelled() {
            let _ = sender
                .send_to(
                    &frame_bytes(1, &px4_heartbeat()),
                    ("127.0.0.1", bridge_port),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let record = heard.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 65_536];
        loop {
            let len = tokio::select! {
                () = stop.cancelled() => return,
                received = socket.recv(&mut buffer) => match received {
                    Ok(len) => len,
                    Err(_) => continue,
                },
            };
            let mut tally = InputTally::default();
            let frames = read_frames(&buffer[..len], &mut tally);
            assert_eq!(tally.skipped_bytes, 0, "the bridge sends only whole frames");
            let mut heard = record.lock().unwrap();
            for (header, message) in frames {
                heard.push((header.system_id, message.message_name()));
            }
        }
    });
    heard
}

/// Payloads that are not valid commands: the committed fuzz corpus's
/// refused files, and commands that decode but carry values no autopilot
/// should be given. The ids of those that can be answered.
fn bad_commands() -> (Vec<Vec<u8>>, Vec<&'static str>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/mqtt_command");
    let mut payloads: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .filter(|bytes| read_command(bytes).is_err())
        .collect();
    assert!(
        payloads.len() >= 8,
        "refused corpus files: {}",
        payloads.len()
    );
    let invalid = [
        (
            "slow-down-backwards",
            r#"{"v":1,"id":"slow-down-backwards","ts_ms":0,"kind":"change_speed","body":{"speed_mps":-3.0}}"#,
        ),
        (
            "off-the-globe",
            r#"{"v":1,"id":"off-the-globe","ts_ms":0,"kind":"reposition","body":{"lat_deg":200.0,"lon_deg":114.4,"alt_rel_m":30.0}}"#,
        ),
        (
            "telemetry-flood",
            r#"{"v":1,"id":"telemetry-flood","ts_ms":0,"kind":"set_telemetry_rate","body":{"hz":10000.0,"for_s":60}}"#,
        ),
        (
            "mission-to-the-pole",
            r#"{"v":1,"id":"mission-to-the-pole","ts_ms":0,"kind":"upload_mission","body":{"items":[{"type":"takeoff","alt_rel_m":30.0},{"type":"waypoint","lat_deg":95.0,"lon_deg":114.4,"alt_rel_m":30.0,"hold_s":0.0}]}}"#,
        ),
    ];
    let mut ids = Vec::new();
    for (id, payload) in invalid {
        assert!(
            read_command(payload.as_bytes()).is_ok(),
            "{id} must decode, so that the value checks are what refuses it"
        );
        payloads.push(payload.as_bytes().to_vec());
        ids.push(id);
    }
    (payloads, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_invalid_commands_and_tunnel_garbage_send_nothing_to_the_autopilot() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (client, mut heard) = test_client(&broker.url()).await;
    let bridge_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = CancellationToken::new();
    let config = BridgeConfig {
        gcs_tunnel: true,
        ..BridgeConfig::new(
            DRONE,
            format!("udpin:127.0.0.1:{bridge_port}"),
            broker.url(),
        )
    };
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let autopilot = stand_in_autopilot(socket, bridge_port, shutdown.clone());
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .expect("autopilot link up");

    let (payloads, ids) = bad_commands();
    for payload in payloads {
        client
            .publish(topic("commands"), QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    // Garbage and a frame with a broken CRC down the ground-station tunnel.
    let mut corrupted = frame_bytes(255, &px4_heartbeat());
    let last = corrupted.len() - 1;
    corrupted[last] ^= 0xff;
    for payload in [b"\xfd\xfe\x00 not mavlink".to_vec(), corrupted] {
        client
            .publish(topic("mavlink/down"), QoS::AtMostOnce, false, payload)
            .await
            .unwrap();
    }

    // Every answerable one ends failed, saying why.
    let mut unanswered: Vec<&str> = ids.clone();
    tokio::time::timeout(WAIT, async {
        while !unanswered.is_empty() {
            if let Some(Heard::Reply(reply)) = heard.recv().await {
                if reply.state.is_terminal() {
                    assert_eq!(reply.state, CommandState::Failed, "{reply:?}");
                    assert!(reply.message.is_some(), "{reply:?}");
                    unanswered.retain(|id| *id != reply.request_id);
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no failed reply to {unanswered:?}"));
    // Give a stray frame time to arrive (loopback: microseconds).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent: Vec<(u32, &str)> = autopilot.lock().unwrap().clone();
    assert!(
        sent.iter().any(|&(_, name)| name == "HEARTBEAT"),
        "the stand-in hears the bridge at all: {sent:?}"
    );
    assert!(
        sent.iter()
            .all(|&(system, name)| name == "HEARTBEAT" && system == 245),
        "only the bridge's HEARTBEAT may reach the autopilot: {sent:?}"
    );

    // The control: a valid command does reach it, so the silence above
    // means something.
    client
        .publish(
            topic("commands"),
            QoS::AtLeastOnce,
            false,
            br#"{"v":1,"id":"arm-ok","ts_ms":0,"kind":"arm"}"#.to_vec(),
        )
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while !autopilot
            .lock()
            .unwrap()
            .iter()
            .any(|&(_, name)| name == "COMMAND_LONG")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a valid arm command reaches the autopilot");

    shutdown.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
}
