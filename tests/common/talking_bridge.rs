//! A stand-in bridge that answers: it reports online, sends the telemetry
//! the test sets, publishes the events the test asks for, and answers
//! every command `succeeded`, passing on each command's name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geo::Point;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::mpsc::UnboundedReceiver;
use wire::{
    Availability, Channel, Command, CommandReply, CommandState, EventBody, Status, Telemetry, Topic,
};

use super::mute_bridge::parked;

pub struct TalkingBridge {
    pub drone: String,
    pub telemetry: Arc<Mutex<Telemetry>>,
    /// Names of the commands heard, in order.
    pub commands: UnboundedReceiver<String>,
    client: AsyncClient,
    next_event: AtomicU64,
}

impl TalkingBridge {
    pub async fn start(broker_port: u16, drone: &str, at: Point) -> TalkingBridge {
        let mut options = MqttOptions::new(format!("talking-{drone}"), "127.0.0.1", broker_port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let (heard, commands) = tokio::sync::mpsc::unbounded_channel();
        let replier = client.clone();
        let name = drone.to_owned();
        tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                let MqttEvent::Incoming(Packet::Publish(p)) = event else {
                    continue;
                };
                let Ok(command) = wire::decode::<Command>(&p.payload) else {
                    continue;
                };
                let _ = heard.send(command.body.name().to_owned());
                let reply = CommandReply {
                    v: wire::VERSION,
                    request_id: command.id,
                    drone: name.clone(),
                    ts_ms: chrono::Utc::now().timestamp_millis(),
                    state: CommandState::Succeeded,
                    message: None,
                };
                let _ = replier.try_publish(
                    Topic::new(&name, Channel::Replies).name(),
                    QoS::AtLeastOnce,
                    false,
                    wire::encode(&reply),
                );
            }
        });
        client
            .subscribe(
                Topic::new(drone, Channel::Commands).name(),
                QoS::AtLeastOnce,
            )
            .await
            .unwrap();
        let status = Status {
            v: wire::VERSION,
            drone: drone.into(),
            state: Availability::Online,
            ts_ms: 0,
            autopilot: Some("px4".into()),
            autopilot_link: true,
        };
        client
            .publish(
                Topic::new(drone, Channel::Status).name(),
                QoS::AtLeastOnce,
                true,
                wire::encode(&status),
            )
            .await
            .unwrap();
        let telemetry = Arc::new(Mutex::new(parked(drone, at)));
        let sample = Arc::clone(&telemetry);
        let sender = client.clone();
        let topic = Topic::new(drone, Channel::Telemetry).name();
        tokio::spawn(async move {
            loop {
                let t = sample.lock().unwrap().clone();
                if sender
                    .publish(topic.clone(), QoS::AtMostOnce, false, wire::encode(&t))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        TalkingBridge {
            drone: drone.to_owned(),
            telemetry,
            commands,
            client,
            next_event: AtomicU64::new(0),
        }
    }

    /// Publishes one event, with an id of its own.
    pub async fn event(&self, body: EventBody) {
        let n = self.next_event.fetch_add(1, Ordering::Relaxed);
        let event = wire::Event {
            v: wire::VERSION,
            id: format!("{}-{}-{n}", self.drone, uuid::Uuid::new_v4().simple()),
            drone: self.drone.clone(),
            ts_ms: chrono::Utc::now().timestamp_millis(),
            body,
        };
        self.client
            .publish(
                Topic::new(&self.drone, Channel::Events).name(),
                QoS::AtLeastOnce,
                false,
                wire::encode(&event),
            )
            .await
            .unwrap();
    }

    /// Publishes the bridge's status, as its Last Will would when offline.
    pub async fn status(&self, online: bool) {
        let status = Status {
            v: wire::VERSION,
            drone: self.drone.clone(),
            state: if online {
                Availability::Online
            } else {
                Availability::Offline
            },
            ts_ms: chrono::Utc::now().timestamp_millis(),
            autopilot: Some("px4".into()),
            autopilot_link: online,
        };
        self.client
            .publish(
                Topic::new(&self.drone, Channel::Status).name(),
                QoS::AtLeastOnce,
                true,
                wire::encode(&status),
            )
            .await
            .unwrap();
    }

    /// Waits for the dispatcher to send this drone a mission and then start
    /// it, in that order, each within 10 s.
    pub async fn expect_mission_started(&mut self) {
        for expected in ["upload_mission", "start_mission"] {
            assert_eq!(
                self.next_command(Duration::from_secs(10)).await.as_deref(),
                Some(expected)
            );
        }
    }

    /// The next command heard within `limit`, if any.
    pub async fn next_command(&mut self, limit: Duration) -> Option<String> {
        tokio::time::timeout(limit, self.commands.recv())
            .await
            .ok()
            .flatten()
    }
}
