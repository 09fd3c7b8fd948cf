//! Resilience end to end: the broker going away mid-mission, the bridge
//! restarted while it holds undelivered events, the autopilot link cut.
//! The broker "outage" is a TCP proxy in front of the embedded broker that
//! the test cuts and restores (rumqttd cannot be stopped in-process); the
//! test's own client talks to the broker directly and hears everything.

use std::time::Duration;

mod common;

use common::*;

use firmware_bridge::BridgeConfig;
use rumqttc::{AsyncClient, QoS};
use simulator::{SimConfig, Simulator, VehicleSpec};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wire::{Command, CommandBody, CommandState, Event, EventBody};

type BridgeTask = JoinHandle<Result<(), firmware_bridge::BridgeError>>;

struct Rig {
    shutdown: CancellationToken,
    client: AsyncClient,
    inbox: mpsc::UnboundedReceiver<Heard>,
    vehicle: mpsc::UnboundedReceiver<mavlink::dialects::ardupilotmega::MavMessage>,
    proxy: CuttableTcpProxy,
    /// Where the bridge connects: the proxy, or a real broker.
    bridge_mqtt_url: String,
    vehicle_addr: std::net::SocketAddr,
    /// Every event heard since the rig started, whatever was waited for.
    events_heard: Vec<Event>,
    _broker: broker::EmbeddedBroker,
}

impl Rig {
    async fn start() -> Rig {
        Rig::start_with(None).await
    }

    /// With `real_broker` (URL, client id for the persistent test client)
    /// the bridge and the test client both use that broker instead of the
    /// embedded one and its proxy.
    async fn start_with(real_broker: Option<(String, &str)>) -> Rig {
        let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
            .expect("broker starts");
        let shutdown = CancellationToken::new();
        let mut sim = Simulator::bind(SimConfig {
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
        let vehicle_addr = sim.addresses()[0].1;
        let vehicle = watch_vehicle(&mut sim).await;
        tokio::spawn(sim.run(shutdown.clone()));
        let proxy = CuttableTcpProxy::start(broker.addr()).await;
        let ((client, inbox), bridge_mqtt_url) = match real_broker {
            Some((url, client_id)) => (test_client_with(&url, client_id, false, None).await, url),
            None => (test_client(&broker.url()).await, proxy.url()),
        };
        Rig {
            shutdown,
            client,
            inbox,
            vehicle,
            proxy,
            bridge_mqtt_url,
            vehicle_addr,
            events_heard: Vec::new(),
            _broker: broker,
        }
    }

    fn start_bridge(
        &self,
        mavlink: String,
        spool: &std::path::Path,
    ) -> (BridgeTask, CancellationToken) {
        let stop = self.shutdown.child_token();
        let config = BridgeConfig {
            mqtt_keep_alive: Duration::from_secs(2),
            spool_dir: Some(spool.to_owned()),
            ..BridgeConfig::new(DRONE, mavlink, self.bridge_mqtt_url.clone())
        };
        (
            tokio::spawn(firmware_bridge::run(config, stop.clone())),
            stop,
        )
    }

    async fn send(&self, id: &str, body: CommandBody) {
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
            .expect("test client publishes");
    }

    async fn until<T>(&mut self, what: &str, mut pick: impl FnMut(&Heard) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                let heard = self.inbox.recv().await.expect("test client alive");
                if let Heard::Event(event) = &heard {
                    self.events_heard.push(event.clone());
                }
                if let Some(found) = pick(&heard) {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    async fn succeeds(&mut self, id: &str, body: CommandBody) {
        self.send(id, body).await;
        let id = id.to_owned();
        let state = self
            .until(&format!("terminal reply to {id}"), |heard| match heard {
                Heard::Reply(reply) if reply.request_id == id && reply.state.is_terminal() => {
                    Some(reply.clone())
                }
                _ => None,
            })
            .await;
        assert_eq!(state.state, CommandState::Succeeded, "{state:?}");
    }

    /// Waits for both the link event and the retained status saying `up`;
    /// they may come in either order (a status jumps the queue).
    async fn link_reported(&mut self, up: bool) {
        let (mut event_seen, mut status_seen) = (false, false);
        self.until(
            &format!(
                "link {} event and status",
                if up { "regained" } else { "lost" }
            ),
            |heard| {
                match heard {
                    Heard::Event(event) => {
                        event_seen |= match event.body {
                            EventBody::AutopilotLinkRegained => up,
                            EventBody::AutopilotLinkLost => !up,
                            _ => false,
                        }
                    }
                    Heard::Status(status) => status_seen |= status.autopilot_link == up,
                    _ => {}
                }
                (event_seen && status_seen).then_some(())
            },
        )
        .await;
    }

    /// Every event heard from the start until `landed`, in arrival order.
    /// From the start, not from the call: after a broker outage the broker
    /// may hand over an event it queued before the bridge resends earlier
    /// ones it never saw acknowledged, and those earlier ones were heard
    /// before the outage.
    async fn events_until_landed(&mut self) -> Vec<Event> {
        let landed = |events: &[Event]| {
            events
                .iter()
                .any(|event| matches!(event.body, EventBody::Landed { .. }))
        };
        if !landed(&self.events_heard) {
            self.until("landed event", |heard| match heard {
                Heard::Event(event) => matches!(event.body, EventBody::Landed { .. }).then_some(()),
                _ => None,
            })
            .await;
        }
        self.events_heard.clone()
    }
}

/// The counter at the end of an event id (`{drone}-{run}-{counter}`).
fn counter(event: &Event) -> u64 {
    event.id.rsplit('-').next().unwrap().parse().unwrap()
}

fn mission_story(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::MissionItemReached { seq, .. } => Some(format!("reached {seq}")),
            EventBody::ImageCaptured(_) => Some("image".into()),
            EventBody::MissionCompleted { .. } => Some("completed".into()),
            EventBody::Landed { .. } => Some("landed".into()),
            _ => None,
        })
        .collect()
}

const WHOLE_MISSION: [&str; 7] = [
    "reached 0",
    "reached 1",
    "image",
    "reached 2",
    "reached 3",
    "completed",
    "landed",
];

/// No repeats (after de-duplication by id, as the dispatcher does) and the
/// counters of one bridge run strictly increasing: nothing reordered.
fn dedupe_in_order(events: Vec<Event>) -> Vec<Event> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<Event> = events
        .into_iter()
        .filter(|e| seen.insert(e.id.clone()))
        .collect();
    for pair in unique.windows(2) {
        let run = |e: &Event| e.id.rsplit_once('-').unwrap().0.to_owned();
        if run(&pair[0]) == run(&pair[1]) {
            assert!(
                counter(&pair[0]) < counter(&pair[1]),
                "out of order: {pair:?}"
            );
        }
    }
    unique
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_mid_mission_loses_no_event() {
    let mut rig = Rig::start().await;
    let spool = temp_dir("outage");
    let (bridge, stop) = rig.start_bridge(format!("udpout:{}", rig.vehicle_addr), &spool);
    rig.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    rig.succeeds("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    rig.succeeds("start", CommandBody::StartMission).await;

    // The broker vanishes for the rest of the flight.
    rig.proxy.cut();
    until_flight_over(&mut rig.vehicle).await;
    rig.proxy.restore().await;

    let events = dedupe_in_order(rig.events_until_landed().await);
    assert_eq!(mission_story(&events), WHOLE_MISSION, "{events:#?}");

    stop.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
    rig.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&spool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_restarted_during_an_outage_delivers_every_event_from_disk() {
    let mut rig = Rig::start().await;
    let spool = temp_dir("restart");
    let mavlink = format!("udpout:{}", rig.vehicle_addr);
    let (first_run, _) = rig.start_bridge(mavlink.clone(), &spool);
    rig.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    rig.succeeds("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    rig.succeeds("start", CommandBody::StartMission).await;

    rig.proxy.cut();
    until_flight_over(&mut rig.vehicle).await;
    // The bridge notices the landing a moment after the vehicle reports it:
    // wait until its event is on disk.
    let log = spool.join(format!("{DRONE}.outbox"));
    const LANDED: &[u8] = br#""kind":"landed""#;
    tokio::time::timeout(WAIT, async {
        while !std::fs::read(&log)
            .unwrap_or_default()
            .windows(LANDED.len())
            .any(|w| w == LANDED)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no landed event in the spool: {:?}",
            String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default())
        )
    });
    // The bridge dies holding the whole flight's events: no goodbye.
    first_run.abort();
    let _ = first_run.await;

    let (second_run, stop) = rig.start_bridge(mavlink, &spool);
    rig.proxy.restore().await;
    let events = dedupe_in_order(rig.events_until_landed().await);
    assert_eq!(mission_story(&events), WHOLE_MISSION, "{events:#?}");
    let runs: std::collections::HashSet<_> = events
        .iter()
        .filter(|e| {
            !matches!(
                e.body,
                EventBody::StatusText { .. } | EventBody::ModeChanged { .. }
            )
        })
        .map(|e| e.id.rsplit_once('-').unwrap().0.to_owned())
        .collect();
    assert_eq!(runs.len(), 1, "all from the first run, ids kept: {runs:?}");

    stop.cancel();
    tokio::time::timeout(WAIT, second_run)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
    rig.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&spool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopilot_link_cut_and_restored_is_reported_and_recovers() {
    let mut rig = Rig::start().await;
    let spool = temp_dir("link");
    let radio = CuttableUdpProxy::start(rig.vehicle_addr).await;
    let (bridge, stop) = rig.start_bridge(format!("udpout:{}", radio.addr), &spool);
    rig.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;

    radio.set_cut(true);
    rig.link_reported(false).await;
    // While the link is down a command fails at once, naming why, and
    // nothing is queued to surprise the autopilot later.
    rig.send("while-cut", CommandBody::Land).await;
    let refused = rig
        .until("reply to while-cut", |heard| match heard {
            Heard::Reply(reply) if reply.request_id == "while-cut" && reply.state.is_terminal() => {
                Some(reply.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(refused.state, CommandState::Failed);
    assert!(
        refused
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("link is down"),
        "{refused:?}"
    );

    // The bridge kept sending its HEARTBEAT through the outage, so the
    // autopilot starts streaming again as soon as the radio is back.
    radio.set_cut(false);
    rig.link_reported(true).await;
    rig.succeeds("after-cut", CommandBody::UploadMission(survey_mission()))
        .await;

    stop.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
    rig.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&spool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_stopped_and_restarted_mid_mission_loses_no_event() {
    let dir = temp_dir("mosquitto-restart");
    // Persistence keeps the test client's session (and the messages queued
    // for it) across the restart, as a production broker would.
    let config = format!(
        "allow_anonymous true\npersistence true\npersistence_location {dir}/\nlog_dest file {dir}/mosquitto.log\nlog_type all\n",
        dir = dir.display()
    );
    let Some(mut mosquitto) = Mosquitto::start(&dir, &config) else {
        return;
    };
    let client_id = format!("test-dispatcher-{}", std::process::id());
    let mut rig = Rig::start_with(Some((mosquitto.url(), &client_id))).await;
    let (bridge, stop) = rig.start_bridge(format!("udpout:{}", rig.vehicle_addr), &dir);
    rig.until("autopilot heard", |heard| match heard {
        Heard::Status(status) if status.autopilot_link => Some(()),
        _ => None,
    })
    .await;
    rig.succeeds("upload", CommandBody::UploadMission(survey_mission()))
        .await;
    rig.succeeds("start", CommandBody::StartMission).await;

    mosquitto.stop();
    until_flight_over(&mut rig.vehicle).await;
    mosquitto.restart();

    let events = dedupe_in_order(rig.events_until_landed().await);
    assert_eq!(mission_story(&events), WHOLE_MISSION, "{events:#?}");

    stop.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
    rig.shutdown.cancel();
    drop(mosquitto);
    let _ = std::fs::remove_dir_all(&dir);
}
