//! Faults on demand, failsafes and the lockstep clock, over real UDP sockets:
//! time moves only when the test advances it, faults come from the run-time
//! handle or a scenario, the same seed gives the same outcome, and parameters
//! set over MAVLink arm the link-loss and fence failsafes.

mod common;

use std::time::Duration;

use common::{home, Gcs};
use mavlink::dialects::ardupilotmega::{
    FenceBreach, GpsFixType, MavCmd, MavFrame, MavLandedState, MavMessage, MavMissionResult,
    MavMissionType, MavModeFlag, MavParamType, MavResult, COMMAND_INT_DATA, MISSION_COUNT_DATA,
    MISSION_ITEM_INT_DATA, PARAM_SET_DATA,
};
use simulator::{
    ClockMode, Fault, Lockstep, Scenario, SimConfig, SimHandle, SimOptions, Simulator, VehicleSpec,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Rig {
    gcs: Gcs,
    clock: Lockstep,
    faults: SimHandle,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), simulator::SimError>>,
}

impl Rig {
    async fn start(options: SimOptions) -> Rig {
        let config = SimConfig {
            vehicles: vec![VehicleSpec {
                name: "drone-1".into(),
                system_id: 1,
                home: home(0),
                port: 0,
            }],
            speedup: 1.0,
            bind_ip: "127.0.0.1".parse().unwrap(),
        };
        let simulator = Simulator::bind_with(
            config,
            SimOptions {
                clock: ClockMode::Lockstep,
                ..options
            },
        )
        .await
        .expect("bind");
        let clock = simulator.lockstep().expect("lockstep clock");
        let faults = simulator.handle();
        let mut gcs = Gcs::connect(simulator.addresses()[0].1).await;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(simulator.run(shutdown.clone()));
        gcs.heartbeat().await;
        // Let the heartbeat arrive, then one tick sends the streams.
        tokio::time::sleep(Duration::from_millis(100)).await;
        clock.advance(0.1).await;
        gcs.wait_for("HEARTBEAT", |_, message| {
            matches!(message, MavMessage::HEARTBEAT(_)).then_some(())
        })
        .await;
        Rig {
            gcs,
            clock,
            faults,
            shutdown,
            task,
        }
    }

    /// Take off to 10 m and settle there.
    async fn airborne(&mut self) {
        let ack = self
            .gcs
            .command(
                1,
                MavCmd::MAV_CMD_NAV_TAKEOFF,
                [-1.0, 0.0, 0.0, f32::NAN, f32::NAN, f32::NAN, 30.0],
            )
            .await;
        assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);
        let ack = self
            .gcs
            .command(
                1,
                MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
                [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            )
            .await;
        assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);
        self.run_for(10).await;
    }

    /// Discard everything received so far.
    async fn drain(&self) {
        while tokio::time::timeout(Duration::from_millis(50), self.gcs.recv_raw_quiet())
            .await
            .is_ok()
        {}
    }

    /// Advance `seconds` of simulated time one second at a time, collecting
    /// what arrives (so a long advance cannot overflow the socket buffer).
    async fn run_for(&self, seconds: u32) -> Vec<MavMessage> {
        let mut messages = Vec::new();
        for _ in 0..seconds {
            self.clock.advance(1.0).await;
            messages.extend(self.received().await);
        }
        messages
    }

    /// Messages already received, decoded.
    async fn received(&self) -> Vec<MavMessage> {
        let mut messages = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(30), self.gcs.recv_quiet()).await
        {
            messages.push(message);
        }
        messages
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

trait Quiet {
    async fn recv_raw_quiet(&self) -> Vec<u8>;
    async fn recv_quiet(&self) -> Option<MavMessage>;
}

impl Quiet for Gcs {
    async fn recv_raw_quiet(&self) -> Vec<u8> {
        let mut buffer = vec![0u8; 2048];
        let (length, _) = self.socket.recv_from(&mut buffer).await.expect("receive");
        buffer.truncate(length);
        buffer
    }

    async fn recv_quiet(&self) -> Option<MavMessage> {
        let datagram = self.recv_raw_quiet().await;
        let mut reader = mavlink::MavlinkReader::new(&datagram[..]);
        reader
            .read_message::<MavMessage>(mavlink::MavlinkVersion::V2)
            .ok()
            .map(|(_, message)| message)
    }
}

fn texts(messages: &[MavMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|message| match message {
            MavMessage::STATUSTEXT(data) => data.text.to_str().ok().map(str::to_string),
            _ => None,
        })
        .collect()
}

fn last_relative_alt_m(messages: &[MavMessage]) -> Option<f64> {
    messages.iter().rev().find_map(|message| match message {
        MavMessage::GLOBAL_POSITION_INT(data) => Some(f64::from(data.relative_alt) / 1000.0),
        _ => None,
    })
}

fn landed(messages: &[MavMessage]) -> bool {
    messages.iter().rev().find_map(|message| match message {
        MavMessage::EXTENDED_SYS_STATE(data) => {
            Some(data.landed_state == MavLandedState::MAV_LANDED_STATE_ON_GROUND)
        }
        _ => None,
    }) == Some(true)
}

#[tokio::test]
async fn lockstep_time_moves_only_when_the_test_advances_it() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.airborne().await;
    let messages = rig.run_for(1).await;
    let alt_m = last_relative_alt_m(&messages).expect("position stream");
    assert!(
        (alt_m - 10.0).abs() < 1.0,
        "climbed to {alt_m} m in 10 simulated s"
    );
    let boot_ms = |messages: &[MavMessage]| {
        messages.iter().rev().find_map(|message| match message {
            MavMessage::GLOBAL_POSITION_INT(data) => Some(data.time_boot_ms),
            _ => None,
        })
    };
    let before = boot_ms(&messages).expect("time");
    // Wall time passes, simulated time does not: no streams at all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rig.received().await.is_empty(),
        "a stopped clock sends nothing"
    );
    let after = boot_ms(&rig.run_for(60).await).expect("time");
    assert!((after - before) >= 59_000, "{before} -> {after}");
    assert!(rig.clock.sim_time_s() >= 71.0);
    rig.stop().await;
}

#[tokio::test]
async fn a_cut_link_is_silent_both_ways_until_it_heals() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.faults
        .inject(
            "drone-1",
            Fault::LinkCut {
                duration_s: Some(5.0),
            },
        )
        .unwrap();
    rig.clock.advance(0.1).await;
    rig.drain().await;
    // A command during the cut is lost: no acknowledgement.
    rig.gcs
        .send(&common::command_long(
            1,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ))
        .await;
    rig.clock.advance(3.0).await;
    assert!(
        rig.received().await.is_empty(),
        "nothing gets out of a cut link"
    );
    rig.clock.advance(3.0).await;
    let messages = rig.received().await;
    assert!(!messages.is_empty(), "the link heals after 5 s");
    let armed = messages.iter().any(|message| match message {
        MavMessage::HEARTBEAT(data) => data
            .base_mode
            .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED),
        _ => false,
    });
    assert!(!armed, "the arm command sent during the cut never arrived");
    rig.stop().await;
}

async fn positions_through_a_lossy_link(seed: u64) -> usize {
    let rig = Rig::start(SimOptions {
        seed,
        ..SimOptions::default()
    })
    .await;
    rig.faults
        .inject(
            "drone-1",
            Fault::LossyLink {
                loss: 0.5,
                latency_ms: 0.0,
                jitter_ms: 0.0,
            },
        )
        .unwrap();
    rig.clock.advance(0.1).await;
    rig.drain().await;
    let mut positions = 0;
    // 30 s at 4 Hz = 120 position reports sent.
    for _ in 0..30 {
        rig.clock.advance(1.0).await;
        positions += rig
            .received()
            .await
            .iter()
            .filter(|message| matches!(message, MavMessage::GLOBAL_POSITION_INT(_)))
            .count();
    }
    rig.stop().await;
    positions
}

#[tokio::test]
async fn a_lossy_link_loses_about_half_and_the_same_seed_loses_the_same() {
    let first = positions_through_a_lossy_link(11).await;
    assert!((35..=85).contains(&first), "{first} of 120 got through");
    assert_eq!(first, positions_through_a_lossy_link(11).await);
}

#[tokio::test]
async fn a_slow_link_delays_the_command_and_its_answer() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.faults
        .inject(
            "drone-1",
            Fault::LossyLink {
                loss: 0.0,
                latency_ms: 500.0,
                jitter_ms: 0.0,
            },
        )
        .unwrap();
    rig.clock.advance(1.0).await;
    rig.drain().await;
    rig.gcs
        .send(&common::command_long(
            1,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ))
        .await;
    // Let the datagram reach the vehicle's queue before time moves.
    tokio::time::sleep(Duration::from_millis(100)).await;
    rig.clock.advance(0.8).await;
    let acked = |messages: &[MavMessage]| {
        messages
            .iter()
            .any(|message| matches!(message, MavMessage::COMMAND_ACK(_)))
    };
    assert!(
        !acked(&rig.received().await),
        "answer within 0.8 s over a 0.5 s link"
    );
    rig.clock.advance(0.4).await;
    assert!(acked(&rig.received().await), "0.5 s there, 0.5 s back");
    rig.stop().await;
}

#[tokio::test]
async fn gps_loss_in_flight_lands_and_reports_no_fix() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.airborne().await;
    rig.faults
        .inject("drone-1", Fault::GpsLoss { duration_s: None })
        .unwrap();
    let messages = rig.run_for(2).await;
    assert!(texts(&messages).contains(&"GPS lost, landing".to_string()));
    assert!(messages.iter().any(|message| matches!(message,
        MavMessage::GPS_RAW_INT(data) if data.fix_type == GpsFixType::GPS_FIX_TYPE_NO_FIX)));
    assert!(landed(&rig.run_for(30).await));
    rig.stop().await;
}

#[tokio::test]
async fn a_battery_fault_in_flight_triggers_the_battery_failsafe() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.airborne().await;
    rig.faults
        .inject(
            "drone-1",
            Fault::BatteryFault {
                remaining_fraction: 0.08,
            },
        )
        .unwrap();
    let messages = rig.run_for(1).await;
    let texts = texts(&messages);
    assert!(texts.contains(&"Battery fault".to_string()), "{texts:?}");
    assert!(
        texts.contains(&"Critical battery, returning".to_string()),
        "{texts:?}"
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_motor_failure_forces_a_landing_and_blocks_arming() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.airborne().await;
    rig.faults.inject("drone-1", Fault::MotorFailure).unwrap();
    let messages = rig.run_for(30).await;
    assert!(texts(&messages).contains(&"Motor failure, forced, landing".to_string()));
    assert!(landed(&messages));
    let ack = rig
        .gcs
        .command(
            1,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(ack.result, MavResult::MAV_RESULT_DENIED);
    rig.stop().await;
}

#[tokio::test]
async fn wind_shows_as_airspeed_while_hovering() {
    let mut rig = Rig::start(SimOptions::default()).await;
    rig.airborne().await;
    rig.faults
        .inject(
            "drone-1",
            Fault::Wind {
                speed_mps: 7.0,
                from_deg: 270.0,
                gust_mps: 0.0,
            },
        )
        .unwrap();
    let hud = rig
        .run_for(3)
        .await
        .into_iter()
        .rev()
        .find_map(|message| match message {
            MavMessage::VFR_HUD(data) => Some(data),
            _ => None,
        })
        .expect("VFR_HUD");
    assert!(
        hud.groundspeed < 0.5,
        "holding position: {}",
        hud.groundspeed
    );
    assert!(
        (hud.airspeed - 7.0).abs() < 0.5,
        "airspeed {}",
        hud.airspeed
    );
    rig.stop().await;
}

#[tokio::test]
async fn a_scenario_file_injects_its_faults_at_their_times() {
    let scenario = Scenario::from_json(
        r#"{"seed": 3, "faults": [
            {"at_s": 5, "vehicle": "drone-1", "kind": "gps_loss", "duration_s": 10}
        ]}"#,
        "inline",
    )
    .unwrap();
    let rig = Rig::start(SimOptions {
        scenario,
        ..SimOptions::default()
    })
    .await;
    let fix_types = |messages: &[MavMessage]| {
        messages
            .iter()
            .filter_map(|message| match message {
                MavMessage::GPS_RAW_INT(data) => Some(data.fix_type),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    rig.clock.advance(4.5).await;
    assert!(fix_types(&rig.received().await)
        .iter()
        .all(|fix| *fix == GpsFixType::GPS_FIX_TYPE_3D_FIX));
    rig.clock.advance(2.0).await;
    assert_eq!(
        fix_types(&rig.received().await).last(),
        Some(&GpsFixType::GPS_FIX_TYPE_NO_FIX)
    );
    let messages = rig.run_for(10).await;
    assert!(texts(&messages).contains(&"GPS fix regained".to_string()));
    assert_eq!(
        fix_types(&messages).last(),
        Some(&GpsFixType::GPS_FIX_TYPE_3D_FIX)
    );
    rig.stop().await;
}

#[tokio::test]
async fn run_time_faults_are_checked_and_must_name_a_vehicle() {
    let rig = Rig::start(SimOptions::default()).await;
    assert!(matches!(
        rig.faults.inject("drone-9", Fault::MotorFailure),
        Err(simulator::SimError::UnknownVehicle(_))
    ));
    assert!(matches!(
        rig.faults.inject(
            "drone-1",
            Fault::BatteryFault {
                remaining_fraction: 2.0
            }
        ),
        Err(simulator::SimError::BadFault { .. })
    ));
    rig.stop().await;
}

async fn set_param(rig: &mut Rig, name: &str, value: f32, param_type: MavParamType) {
    rig.gcs
        .send(&MavMessage::PARAM_SET(PARAM_SET_DATA {
            param_value: value,
            target_system: 1,
            target_component: 1,
            param_id: name.into(),
            param_type,
        }))
        .await;
    rig.gcs
        .wait_for("PARAM_VALUE", |_, message| match message {
            MavMessage::PARAM_VALUE(data) if data.param_id.to_str() == Ok(name) => Some(()),
            _ => None,
        })
        .await;
}

fn px4_mode(messages: &[MavMessage]) -> Option<u32> {
    messages.iter().rev().find_map(|message| match message {
        MavMessage::HEARTBEAT(data) => Some(data.custom_mode),
        _ => None,
    })
}

#[tokio::test]
async fn silence_from_the_ground_station_past_com_dl_loss_t_returns_home() {
    let mut rig = Rig::start(SimOptions::default()).await;
    // PX4 sends integer parameters bytewise.
    set_param(
        &mut rig,
        "NAV_DLL_ACT",
        f32::from_bits(2),
        MavParamType::MAV_PARAM_TYPE_INT32,
    )
    .await;
    set_param(
        &mut rig,
        "COM_DL_LOSS_T",
        f32::from_bits(15),
        MavParamType::MAV_PARAM_TYPE_INT32,
    )
    .await;
    rig.airborne().await;
    // The last GCS heartbeat was at the start, 10 s ago: send one now, then
    // stay silent for longer than COM_DL_LOSS_T.
    rig.gcs.heartbeat().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let quiet = rig.run_for(13).await;
    assert!(!texts(&quiet)
        .iter()
        .any(|text| text.starts_with("Connection to ground station lost")));
    let lost = rig.run_for(3).await;
    assert!(
        texts(&lost).contains(&"Connection to ground station lost, returning".to_string()),
        "{:?}",
        texts(&lost)
    );
    assert_eq!(px4_mode(&lost), Some(0x0504_0000), "AUTO.RTL");
    rig.stop().await;
}

#[tokio::test]
async fn flying_out_of_an_uploaded_fence_is_reported_and_acted_on() {
    let mut rig = Rig::start(SimOptions::default()).await;
    set_param(
        &mut rig,
        "GF_ACTION",
        f32::from_bits(3),
        MavParamType::MAV_PARAM_TYPE_INT32,
    )
    .await;
    // A 100 m circle around home as the inclusion fence.
    let centre = home(0);
    let circle = MISSION_ITEM_INT_DATA {
        param1: 100.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: (centre.lat_deg * 1e7).round() as i32,
        y: (centre.lon_deg * 1e7).round() as i32,
        z: 0.0,
        seq: 0,
        command: MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
        target_system: 1,
        target_component: 1,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        current: 0,
        autocontinue: 0,
        mission_type: MavMissionType::MAV_MISSION_TYPE_FENCE,
    };
    rig.gcs
        .send(&MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
            count: 1,
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_FENCE,
            opaque_id: 0,
        }))
        .await;
    rig.gcs
        .wait_for("MISSION_REQUEST_INT", |_, message| {
            matches!(message, MavMessage::MISSION_REQUEST_INT(_)).then_some(())
        })
        .await;
    rig.gcs.send(&MavMessage::MISSION_ITEM_INT(circle)).await;
    let ack = rig
        .gcs
        .wait_for("MISSION_ACK", |_, message| match message {
            MavMessage::MISSION_ACK(data) => Some(data.mavtype),
            _ => None,
        })
        .await;
    assert_eq!(ack, MavMissionResult::MAV_MISSION_ACCEPTED);
    rig.airborne().await;
    // Reposition 300 m east, far outside the circle.
    let target = centre.offset_m(300.0, 0.0);
    rig.gcs
        .send(&MavMessage::COMMAND_INT(COMMAND_INT_DATA {
            param1: -1.0,
            param2: 1.0,
            param3: 0.0,
            param4: f32::NAN,
            x: (target.lat_deg * 1e7).round() as i32,
            y: (target.lon_deg * 1e7).round() as i32,
            z: 10.0,
            command: MavCmd::MAV_CMD_DO_REPOSITION,
            target_system: 1,
            target_component: 1,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            current: 0,
            autocontinue: 0,
        }))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let messages = rig.run_for(20).await;
    assert!(texts(&messages).contains(&"Geofence breached, returning".to_string()));
    let breach = messages.iter().find_map(|message| match message {
        MavMessage::FENCE_STATUS(data) if data.breach_status == 1 => Some(data.clone()),
        _ => None,
    });
    let breach = breach.expect("FENCE_STATUS reports the breach");
    assert_eq!(breach.breach_type, FenceBreach::FENCE_BREACH_BOUNDARY);
    assert_eq!(breach.breach_count, 1);
    assert_eq!(px4_mode(&messages), Some(0x0504_0000), "AUTO.RTL");
    rig.stop().await;
}
