//! End to end: embedded MQTT broker + simulated PX4 + the bridge, driven by
//! a test MQTT client the way the dispatcher drives it.

use std::time::Duration;

mod common;

use common::*;

use firmware_bridge::BridgeConfig;
use rumqttc::{AsyncClient, QoS};
use simulator::{AutopilotProfile, SimConfig, SimOptions, Simulator, VehicleSpec};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wire::{
    Availability, Command, CommandBody, CommandReply, CommandState, EventBody, MissionItem,
};

struct Harness {
    shutdown: CancellationToken,
    bridge: JoinHandle<Result<(), firmware_bridge::BridgeError>>,
    client: AsyncClient,
    inbox: mpsc::UnboundedReceiver<Heard>,
    _broker: broker::EmbeddedBroker,
}

impl Harness {
    async fn start(mqtt_keep_alive: Duration) -> Harness {
        Harness::start_as(mqtt_keep_alive, AutopilotProfile::Px4).await
    }

    async fn start_as(mqtt_keep_alive: Duration, autopilot: AutopilotProfile) -> Harness {
        let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
            .expect("broker starts");
        let shutdown = CancellationToken::new();
        let sim = Simulator::bind_with(
            SimConfig {
                vehicles: vec![VehicleSpec {
                    name: DRONE.into(),
                    system_id: 1,
                    home: HOME,
                    port: 0,
                }],
                speedup: 30.0,
                bind_ip: "127.0.0.1".parse().unwrap(),
            },
            SimOptions {
                autopilot,
                ..SimOptions::default()
            },
        )
        .await
        .expect("simulator binds");
        let vehicle_addr = sim.addresses()[0].1;
        tokio::spawn(sim.run(shutdown.clone()));

        // Subscribe before the bridge starts so nothing is missed.
        let (client, inbox) = test_client(&broker.url()).await;

        let config = BridgeConfig {
            telemetry_hz: 5.0,
            mqtt_keep_alive,
            ..BridgeConfig::new(DRONE, format!("udpout:{vehicle_addr}"), broker.url())
        };
        let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
        Harness {
            shutdown,
            bridge,
            client,
            inbox,
            _broker: broker,
        }
    }

    async fn send(&self, id: &str, body: CommandBody) {
        let command = Command {
            v: wire::VERSION,
            id: id.into(),
            ts_ms: 0,
            body,
        };
        self.send_raw(wire::encode(&command)).await;
    }

    async fn send_raw(&self, payload: Vec<u8>) {
        self.client
            .publish(topic("commands"), QoS::AtLeastOnce, false, payload)
            .await
            .expect("test client publishes");
    }

    /// Waits for the first message `pick` accepts, returning what it gives.
    async fn until<T>(&mut self, what: &str, mut pick: impl FnMut(&Heard) -> Option<T>) -> T {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let heard = self.inbox.recv().await.expect("test client alive");
                if let Some(found) = pick(&heard) {
                    return found;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits for the terminal reply to `id`, returning every reply to it seen
    /// on the way (in order, terminal last).
    async fn replies_until_terminal(&mut self, id: &str) -> Vec<CommandReply> {
        let mut replies = Vec::new();
        let id = id.to_owned();
        self.until(&format!("terminal reply to {id}"), |heard| match heard {
            Heard::Reply(reply) if reply.request_id == id => {
                replies.push(reply.clone());
                reply.state.is_terminal().then_some(())
            }
            _ => None,
        })
        .await;
        replies
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mission_flies_end_to_end_with_replies_and_events() {
    mission_end_to_end(AutopilotProfile::Px4, "px4").await;
}

/// The same mission, the same MQTT conversation, on an ArduCopter: the
/// bridge adds ArduPilot's home item 0 and takes it off again, so the
/// dispatcher sees the same sequence numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arducopter_flies_the_same_mission_with_the_same_replies_and_events() {
    mission_end_to_end(AutopilotProfile::ArduPilot, "ardupilot").await;
}

async fn mission_end_to_end(profile: AutopilotProfile, autopilot: &str) {
    let mut h = Harness::start_as(Duration::from_secs(5), profile).await;

    let online = h
        .until(
            "retained status online with its autopilot",
            |heard| match heard {
                Heard::Status(status)
                    if status.state == Availability::Online && status.autopilot.is_some() =>
                {
                    Some(status.clone())
                }
                _ => None,
            },
        )
        .await;
    assert_eq!(online.autopilot.as_deref(), Some(autopilot));
    assert!(online.autopilot_link);
    let sample = h
        .until("telemetry", |heard| match heard {
            Heard::Telemetry(sample) => Some(sample.clone()),
            _ => None,
        })
        .await;
    assert!(distance_m(sample.lat_deg, sample.lon_deg, HOME.lat_deg, HOME.lon_deg) < 5.0);

    let mission = survey_mission();
    let waypoint = match mission.items[1] {
        MissionItem::Waypoint {
            lat_deg, lon_deg, ..
        } => (lat_deg, lon_deg),
        _ => unreachable!(),
    };
    h.send("upload-1", CommandBody::UploadMission(mission))
        .await;
    let upload = h.replies_until_terminal("upload-1").await;
    assert_eq!(
        states(&upload),
        [CommandState::Accepted, CommandState::Succeeded],
        "{upload:?}"
    );

    h.send("start-1", CommandBody::StartMission).await;
    let start = h.replies_until_terminal("start-1").await;
    assert_eq!(
        states(&start),
        [CommandState::Accepted, CommandState::Succeeded],
        "{start:?}"
    );

    let mut reached = Vec::new();
    let mut image = None;
    let mut completed = false;
    h.until("mission completed and landed", |heard| {
        let Heard::Event(event) = heard else {
            return None;
        };
        match &event.body {
            EventBody::MissionItemReached { seq, total } => {
                assert_eq!(*total, 4);
                reached.push(*seq);
            }
            EventBody::ImageCaptured(captured) => image = Some(captured.clone()),
            EventBody::MissionCompleted { total } => {
                assert_eq!(*total, 4);
                completed = true;
            }
            EventBody::Landed { lat_deg, lon_deg } => {
                assert!(distance_m(*lat_deg, *lon_deg, HOME.lat_deg, HOME.lon_deg) < 10.0);
                return Some(());
            }
            _ => {}
        }
        None
    })
    .await;
    assert_eq!(reached, [0, 1, 2, 3]);
    assert!(completed, "mission_completed before landed");
    let image = image.expect("image_captured event");
    let off_m = distance_m(image.lat_deg, image.lon_deg, waypoint.0, waypoint.1);
    assert!(off_m < 10.0, "image taken {off_m:.1} m from the waypoint");
    assert!((image.alt_rel_m - 30.0).abs() < 5.0, "{image:?}");

    h.shutdown.cancel();
    tokio::time::timeout(WAIT, h.bridge)
        .await
        .expect("bridge stops in time")
        .expect("bridge task joins")
        .expect("bridge ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_garbage_are_answered_without_acting() {
    let mut h = Harness::start(Duration::from_secs(5)).await;
    h.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;

    h.send("upload-dup", CommandBody::UploadMission(survey_mission()))
        .await;
    let first = h.replies_until_terminal("upload-dup").await;
    assert_eq!(
        states(&first),
        [CommandState::Accepted, CommandState::Succeeded]
    );

    // Garbage of two kinds: not JSON at all, and JSON with an id but an
    // unknown kind. Neither may crash the bridge or reach the autopilot.
    h.send_raw(b"\x00\x01 definitely not json".to_vec()).await;
    h.send_raw(br#"{"v":1,"id":"bad-1","ts_ms":0,"kind":"self_destruct"}"#.to_vec())
        .await;
    let refused = h.replies_until_terminal("bad-1").await;
    assert_eq!(states(&refused), [CommandState::Failed]);
    assert!(
        refused[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("self_destruct"),
        "{refused:?}"
    );

    // The duplicate gets the latest reply again, and nothing else: had it
    // been uploaded again, an `accepted` would come before the next command's
    // replies (commands run in order).
    h.send("upload-dup", CommandBody::UploadMission(survey_mission()))
        .await;
    h.send("land-after", CommandBody::Land).await;
    let mut dup_replies = Vec::new();
    h.until("terminal reply to land-after", |heard| match heard {
        Heard::Reply(reply) if reply.request_id == "upload-dup" => {
            dup_replies.push(reply.clone());
            None
        }
        Heard::Reply(reply) if reply.request_id == "land-after" => {
            reply.state.is_terminal().then_some(())
        }
        _ => None,
    })
    .await;
    assert_eq!(dup_replies.len(), 1, "{dup_replies:?}");
    assert_eq!(dup_replies[0], first[1], "same latest reply re-sent");

    // A valid command after all that still works.
    h.send("upload-2", CommandBody::UploadMission(survey_mission()))
        .await;
    let later = h.replies_until_terminal("upload-2").await;
    assert_eq!(
        states(&later),
        [CommandState::Accepted, CommandState::Succeeded]
    );

    h.shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, h.bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_goes_offline_on_clean_shutdown_and_via_last_will() {
    // A clean shutdown publishes offline itself.
    let mut h = Harness::start(Duration::from_secs(1)).await;
    h.until("online", |heard| match heard {
        Heard::Status(status) if status.state == Availability::Online => Some(()),
        _ => None,
    })
    .await;
    h.shutdown.cancel();
    h.until("offline after shutdown", |heard| match heard {
        Heard::Status(status) if status.state == Availability::Offline => Some(()),
        _ => None,
    })
    .await;
    tokio::time::timeout(WAIT, h.bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();

    // A dead bridge (task aborted: no DISCONNECT) is declared offline by the
    // broker through the Last Will.
    let mut h = Harness::start(Duration::from_secs(1)).await;
    h.until("online", |heard| match heard {
        Heard::Status(status) if status.state == Availability::Online => Some(()),
        _ => None,
    })
    .await;
    h.bridge.abort();
    let will = h
        .until("offline from the Last Will", |heard| match heard {
            Heard::Status(status) if status.state == Availability::Offline => Some(status.clone()),
            _ => None,
        })
        .await;
    assert_eq!(will.drone, DRONE);
    h.shutdown.cancel();
}

fn until_telemetry_intervals_ms(samples: &[wire::Telemetry]) -> i64 {
    let mut gaps: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].ts_ms - w[0].ts_ms)
        .collect();
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

impl Harness {
    async fn telemetry_samples(&mut self, count: usize) -> Vec<wire::Telemetry> {
        let mut samples = Vec::new();
        self.until(&format!("{count} telemetry samples"), |heard| {
            if let Heard::Telemetry(sample) = heard {
                samples.push(sample.clone());
            }
            (samples.len() >= count).then_some(())
        })
        .await;
        samples
    }

    async fn succeeds(&mut self, id: &str, body: CommandBody) -> CommandReply {
        self.send(id, body).await;
        let replies = self.replies_until_terminal(id).await;
        assert_eq!(
            states(&replies),
            [CommandState::Accepted, CommandState::Succeeded],
            "{id}: {replies:?}"
        );
        replies.last().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_rate_rises_on_request_and_falls_back_when_it_lapses() {
    let mut h = Harness::start(Duration::from_secs(5)).await;
    h.telemetry_samples(2).await;
    // The harness runs the bridge at 5 Hz (200 ms); a pilot asks for 20 Hz.
    h.succeeds(
        "rate-up",
        CommandBody::SetTelemetryRate { hz: 20.0, for_s: 2 },
    )
    .await;
    let boosted = h.telemetry_samples(12).await;
    let boosted_ms = until_telemetry_intervals_ms(&boosted[2..]);
    assert!(
        boosted_ms < 125,
        "median {boosted_ms} ms between samples at 20 Hz"
    );
    // After the 2 s lapse, back to the configured rate without being told.
    h.until("the boost to lapse", |heard| match heard {
        Heard::Telemetry(sample) if sample.ts_ms > boosted[0].ts_ms + 2_500 => Some(()),
        _ => None,
    })
    .await;
    let relaxed = h.telemetry_samples(6).await;
    let relaxed_ms = until_telemetry_intervals_ms(&relaxed);
    assert!(
        relaxed_ms > 125,
        "median {relaxed_ms} ms between samples after the boost"
    );

    // Out-of-range rates are refused, naming the limit.
    h.send(
        "rate-silly",
        CommandBody::SetTelemetryRate {
            hz: 1000.0,
            for_s: 2,
        },
    )
    .await;
    let refused = h.replies_until_terminal("rate-silly").await;
    assert_eq!(
        states(&refused),
        [CommandState::Accepted, CommandState::Failed]
    );
    assert!(refused[1].message.as_deref().unwrap().contains("1000"));
    h.shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, h.bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_disarm_fence_and_rally_uploads_succeed_on_px4() {
    let mut h = Harness::start(Duration::from_secs(5)).await;
    h.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    let corner = |north: f64, east: f64| wire::LatLon {
        lat_deg: HOME.lat_deg + north,
        lon_deg: HOME.lon_deg + east,
    };
    let fence = wire::FencePlan {
        zones: vec![
            wire::FenceZone::InclusionPolygon {
                vertices: vec![
                    corner(-0.01, -0.01),
                    corner(0.01, -0.01),
                    corner(0.01, 0.01),
                    corner(-0.01, 0.01),
                ],
            },
            wire::FenceZone::ExclusionCircle {
                lat_deg: HOME.lat_deg + 0.005,
                lon_deg: HOME.lon_deg,
                radius_m: 30.0,
            },
        ],
    };
    let reply = h.succeeds("fence", CommandBody::UploadFence(fence)).await;
    assert_eq!(reply.message.as_deref(), Some("5 fence items uploaded"));
    let rally = wire::RallyPlan {
        points: vec![wire::RallyPoint {
            lat_deg: HOME.lat_deg + 0.001,
            lon_deg: HOME.lon_deg,
            alt_rel_m: 20.0,
        }],
    };
    let reply = h.succeeds("rally", CommandBody::UploadRally(rally)).await;
    assert_eq!(reply.message.as_deref(), Some("1 rally points uploaded"));

    h.succeeds("arm", CommandBody::Arm).await;
    h.until("telemetry showing armed", |heard| match heard {
        Heard::Telemetry(sample) => sample.armed.then_some(()),
        _ => None,
    })
    .await;
    h.succeeds("disarm", CommandBody::Disarm).await;
    h.until("telemetry showing disarmed", |heard| match heard {
        Heard::Telemetry(sample) => (!sample.armed).then_some(()),
        _ => None,
    })
    .await;
    h.shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, h.bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reposition_and_change_speed_redirect_a_flying_drone_without_failsafe() {
    let mut h = Harness::start(Duration::from_secs(5)).await;
    h.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    h.succeeds("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    h.succeeds("start", CommandBody::StartMission).await;
    h.until("takeoff reached", |heard| match heard {
        Heard::Event(event) => {
            matches!(event.body, EventBody::MissionItemReached { seq: 0, .. }).then_some(())
        }
        _ => None,
    })
    .await;
    let target = wire::Reposition {
        lat_deg: HOME.lat_deg - 0.0004,
        lon_deg: HOME.lon_deg - 0.0004,
        alt_rel_m: 25.0,
    };
    h.succeeds("reposition", CommandBody::Reposition(target.clone()))
        .await;
    h.succeeds("faster", CommandBody::ChangeSpeed { speed_mps: 12.0 })
        .await;
    h.until("the drone at the new point", |heard| match heard {
        Heard::Telemetry(sample)
            if distance_m(
                sample.lat_deg,
                sample.lon_deg,
                target.lat_deg,
                target.lon_deg,
            ) < 3.0 =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    // A commanded return is the dispatcher's doing, not a failsafe.
    h.succeeds("home", CommandBody::ReturnToLaunch).await;
    let mut failsafes = Vec::new();
    h.until("landed", |heard| match heard {
        Heard::Event(event) => {
            if matches!(event.body, EventBody::Failsafe { .. }) {
                failsafes.push(event.clone());
            }
            matches!(event.body, EventBody::Landed { .. }).then_some(())
        }
        _ => None,
    })
    .await;
    assert!(failsafes.is_empty(), "{failsafes:?}");
    h.shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, h.bridge).await;
}

/// Pause holds the drone where it is (PX4: DO_REPOSITION holding here;
/// ArduCopter: BRAKE), and resume carries the same mission on to its end.
async fn pause_and_resume(profile: AutopilotProfile) {
    let mut h = Harness::start_as(Duration::from_secs(5), profile).await;
    h.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    h.succeeds("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    h.succeeds("start", CommandBody::StartMission).await;
    h.until("takeoff reached", |heard| match heard {
        Heard::Event(event) => {
            matches!(event.body, EventBody::MissionItemReached { seq: 0, .. }).then_some(())
        }
        _ => None,
    })
    .await;
    h.succeeds("pause", CommandBody::Pause).await;
    // Held: a second of samples (30 s simulated at 30x) within a few metres,
    // where the mission would have carried it tens of metres on.
    let held = h.telemetry_samples(6).await;
    let moved_m = distance_m(
        held[0].lat_deg,
        held[0].lon_deg,
        held[5].lat_deg,
        held[5].lon_deg,
    );
    assert!(moved_m < 3.0, "moved {moved_m:.1} m while paused");
    h.succeeds("resume", CommandBody::Resume).await;
    let mut reached = Vec::new();
    h.until("mission completed", |heard| match heard {
        Heard::Event(event) => match event.body {
            EventBody::MissionItemReached { seq, .. } => {
                reached.push(seq);
                None
            }
            EventBody::MissionCompleted { .. } => Some(()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(reached.last(), Some(&3), "{reached:?}");
    h.shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, h.bridge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_px4_mission_holds_and_resumes_to_completion() {
    pause_and_resume(AutopilotProfile::Px4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_arducopter_mission_holds_and_resumes_to_completion() {
    pause_and_resume(AutopilotProfile::ArduPilot).await;
}
