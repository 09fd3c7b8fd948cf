//! Faults on demand and the lockstep clock, over real UDP sockets: time moves
//! only when the test advances it, faults come from the run-time handle or a
//! scenario, and the same seed gives the same outcome.

mod common;

use std::time::Duration;

use common::{home, Gcs};
use mavlink::dialects::ardupilotmega::{
    GpsFixType, MavCmd, MavLandedState, MavMessage, MavModeFlag, MavResult,
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
