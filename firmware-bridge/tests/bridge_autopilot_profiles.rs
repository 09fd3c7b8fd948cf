//! How the bridge drives each autopilot, against scripted stand-ins that
//! speak just enough MAVLink: a PX4 that acknowledges a mode change and
//! does not make it (the bridge must not report success), and an ArduCopter
//! whose mode numbers and home-at-item-0 mission numbering the bridge must
//! follow. (The simulator's own ArduCopter profile comes later.)

mod common;

use common::*;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use firmware_bridge::mavlink_input::{read_frames, InputTally};
use firmware_bridge::tunnel::frame_bytes;
use firmware_bridge::BridgeConfig;
use mavlink::dialects::ardupilotmega::*;
use mavlink::MavHeader;
use rumqttc::QoS;
use tokio_util::sync::CancellationToken;
use wire::{Command, CommandBody, CommandReply, CommandState};

/// What a scripted autopilot does with each frame; returns its answers.
type Script = Box<dyn FnMut(&MavMessage, &mut Scripted) -> Vec<MavMessage> + Send>;

/// The scripted autopilot's visible state.
struct Scripted {
    autopilot: MavAutopilot,
    custom_mode: u32,
    /// Everything the bridge sent that is not its HEARTBEAT.
    received: Vec<MavMessage>,
}

/// Runs a scripted autopilot on UDP until `stop`; returns its address.
async fn scripted_autopilot(
    state: Arc<Mutex<Scripted>>,
    mut script: Script,
    stop: CancellationToken,
) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let header = MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: 0,
        };
        let mut peer = None;
        let mut buffer = vec![0u8; 2048];
        let mut ticks = tokio::time::interval(Duration::from_millis(200));
        loop {
            let mut answers = Vec::new();
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    let state = state.lock().unwrap();
                    answers.push(MavMessage::HEARTBEAT(HEARTBEAT_DATA {
                        custom_mode: state.custom_mode,
                        mavtype: MavType::MAV_TYPE_QUADROTOR,
                        autopilot: state.autopilot,
                        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
                        system_status: MavState::MAV_STATE_STANDBY,
                        mavlink_version: 3,
                    }));
                }
                received = socket.recv_from(&mut buffer) => {
                    let Ok((len, from)) = received else { continue };
                    peer = Some(from);
                    let mut tally = InputTally::default();
                    for (_, message) in read_frames(&buffer[..len], &mut tally) {
                        if matches!(message, MavMessage::HEARTBEAT(_)) {
                            continue;
                        }
                        let mut state = state.lock().unwrap();
                        state.received.push(message.clone());
                        answers.extend(script(&message, &mut state));
                    }
                }
            }
            if let Some(peer) = peer {
                for answer in answers {
                    let _ = socket.send_to(&frame_bytes(header, &answer), peer).await;
                }
            }
        }
    });
    address
}

fn ack(command: MavCmd) -> MavMessage {
    MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
        command,
        result: MavResult::MAV_RESULT_ACCEPTED,
        progress: 0,
        result_param2: 0,
        target_system: 0,
        target_component: 0,
    })
}

struct Rig {
    client: rumqttc::AsyncClient,
    heard: tokio::sync::mpsc::UnboundedReceiver<Heard>,
    shutdown: CancellationToken,
    _broker: broker::EmbeddedBroker,
}

impl Rig {
    async fn start(state: Arc<Mutex<Scripted>>, script: Script) -> Rig {
        let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
            .expect("broker starts");
        let (client, mut heard) = test_client(&broker.url()).await;
        let shutdown = CancellationToken::new();
        let autopilot = scripted_autopilot(state, script, shutdown.clone()).await;
        let config = BridgeConfig::new(DRONE, format!("udpout:{autopilot}"), broker.url());
        tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
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
        .expect("the bridge hears the scripted autopilot");
        Rig {
            client,
            heard,
            shutdown,
            _broker: broker,
        }
    }

    async fn run(&mut self, id: &str, body: CommandBody) -> Vec<CommandReply> {
        let command = Command {
            v: wire::VERSION,
            id: id.into(),
            ts_ms: 0,
            body,
        };
        self.client
            .publish(
                topic("commands"),
                QoS::AtLeastOnce,
                false,
                wire::encode(&command),
            )
            .await
            .unwrap();
        let mut replies = Vec::new();
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(Heard::Reply(reply)) = self.heard.recv().await {
                    if reply.request_id == id {
                        replies.push(reply.clone());
                        if reply.state.is_terminal() {
                            return;
                        }
                    }
                }
            }
        })
        .await
        .expect("a terminal reply");
        replies
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_px4_that_acks_a_mode_change_but_stays_put_gets_a_failed_reply() {
    let state = Arc::new(Mutex::new(Scripted {
        autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
        custom_mode: 0x0304_0000, // AUTO.LOITER
        received: Vec::new(),
    }));
    // ACKs every command, changes nothing (PX4 given a packed mode in p2).
    let script: Script = Box::new(|message, _| match message {
        MavMessage::COMMAND_LONG(command) => vec![ack(command.command)],
        _ => vec![],
    });
    let mut rig = Rig::start(state.clone(), script).await;
    let replies = rig.run("rtl", CommandBody::ReturnToLaunch).await;
    let last = replies.last().unwrap();
    assert_eq!(last.state, CommandState::Failed, "{replies:?}");
    assert!(
        last.message.as_deref().unwrap().contains("still reports"),
        "{last:?}"
    );
    let sent = state.lock().unwrap().received.clone();
    let set_mode = sent
        .iter()
        .find_map(|m| match m {
            MavMessage::COMMAND_LONG(c) if c.command == MavCmd::MAV_CMD_DO_SET_MODE => {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("DO_SET_MODE sent");
    assert_eq!(
        (set_mode.param2, set_mode.param3),
        (4.0, 5.0),
        "main AUTO, sub RTL"
    );
    rig.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arducopter_is_driven_by_mode_number_and_gets_home_at_item_0() {
    let state = Arc::new(Mutex::new(Scripted {
        autopilot: MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
        custom_mode: 5, // LOITER
        received: Vec::new(),
    }));
    let script: Script = Box::new(|message, state| match message {
        // ArduCopter takes the mode number in p2 and reports it in HEARTBEAT.
        MavMessage::COMMAND_LONG(command) if command.command == MavCmd::MAV_CMD_DO_SET_MODE => {
            state.custom_mode = command.param2 as u32;
            vec![ack(command.command)]
        }
        MavMessage::COMMAND_LONG(command) => vec![ack(command.command)],
        // Mission protocol: ask for every item in turn, then accept.
        MavMessage::MISSION_COUNT(count) => {
            vec![MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
                seq: 0,
                target_system: 245,
                target_component: 191,
                mission_type: count.mission_type,
            })]
        }
        MavMessage::MISSION_ITEM_INT(item) => {
            let count = state
                .received
                .iter()
                .find_map(|m| match m {
                    MavMessage::MISSION_COUNT(c) if c.mission_type == item.mission_type => {
                        Some(c.count)
                    }
                    _ => None,
                })
                .unwrap_or(0);
            if item.seq + 1 < count {
                vec![MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
                    seq: item.seq + 1,
                    target_system: 245,
                    target_component: 191,
                    mission_type: item.mission_type,
                })]
            } else {
                vec![MavMessage::MISSION_ACK(MISSION_ACK_DATA {
                    target_system: 245,
                    target_component: 191,
                    mavtype: MavMissionResult::MAV_MISSION_ACCEPTED,
                    mission_type: item.mission_type,
                    opaque_id: 0,
                })]
            }
        }
        _ => vec![],
    });
    let mut rig = Rig::start(state.clone(), script).await;

    let upload = rig
        .run("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    assert_eq!(
        upload.last().unwrap().state,
        CommandState::Succeeded,
        "{upload:?}"
    );
    let items: Vec<(u16, MavCmd)> = state
        .lock()
        .unwrap()
        .received
        .iter()
        .filter_map(|m| match m {
            MavMessage::MISSION_ITEM_INT(item) => Some((item.seq, item.command)),
            _ => None,
        })
        .collect();
    assert_eq!(
        items,
        [
            (0, MavCmd::MAV_CMD_NAV_WAYPOINT), // home
            (1, MavCmd::MAV_CMD_NAV_TAKEOFF),
            (2, MavCmd::MAV_CMD_NAV_WAYPOINT),
            (3, MavCmd::MAV_CMD_IMAGE_START_CAPTURE),
            (4, MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH),
        ]
    );

    let rtl = rig.run("rtl", CommandBody::ReturnToLaunch).await;
    assert_eq!(
        rtl.last().unwrap().state,
        CommandState::Succeeded,
        "{rtl:?}"
    );
    assert_eq!(state.lock().unwrap().custom_mode, 6, "RTL is mode 6");
    let pause = rig.run("pause", CommandBody::Pause).await;
    assert_eq!(
        pause.last().unwrap().state,
        CommandState::Succeeded,
        "{pause:?}"
    );
    assert_eq!(state.lock().unwrap().custom_mode, 17, "paused in BRAKE");
    rig.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_and_timed_out_follow_the_command_protocol() {
    let state = Arc::new(Mutex::new(Scripted {
        autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
        custom_mode: 0x0304_0000,
        received: Vec::new(),
    }));
    // Arming reports progress before it is done; speed changes go unanswered.
    let script: Script = Box::new(|message, _| match message {
        MavMessage::COMMAND_LONG(command)
            if command.command == MavCmd::MAV_CMD_COMPONENT_ARM_DISARM =>
        {
            vec![
                MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
                    command: command.command,
                    result: MavResult::MAV_RESULT_IN_PROGRESS,
                    progress: 40,
                    result_param2: 0,
                    target_system: 0,
                    target_component: 0,
                }),
                ack(command.command),
            ]
        }
        _ => vec![],
    });
    let mut rig = Rig::start(state.clone(), script).await;
    let arm = rig.run("arm", CommandBody::Arm).await;
    let states: Vec<CommandState> = arm.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            CommandState::Accepted,
            CommandState::InProgress,
            CommandState::Succeeded
        ]
    );
    assert!(
        arm[1].message.as_deref().unwrap().contains("40%"),
        "{arm:?}"
    );

    let speed = rig
        .run("speed", CommandBody::ChangeSpeed { speed_mps: 5.0 })
        .await;
    let last = speed.last().unwrap();
    assert_eq!(last.state, CommandState::TimedOut, "{speed:?}");
    assert!(
        last.message.as_deref().unwrap().contains("4 attempts"),
        "{last:?}"
    );
    // Sent four times, `confirmation` counting up.
    let confirmations: Vec<u8> = state
        .lock()
        .unwrap()
        .received
        .iter()
        .filter_map(|m| match m {
            MavMessage::COMMAND_LONG(c) if c.command == MavCmd::MAV_CMD_DO_CHANGE_SPEED => {
                Some(c.confirmation)
            }
            _ => None,
        })
        .collect();
    assert_eq!(confirmations, [0, 1, 2, 3]);
    rig.shutdown.cancel();
}
