//! A stand-in bridge that speaks the v1 contract through a real broker but
//! never answers a command: it reports online, sends the telemetry the test
//! sets, and passes on the topics of the commands it hears.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use geo::Point;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc::UnboundedReceiver;
use wire::{Availability, Channel, FlightMode, LandedState, Status, Telemetry, Topic};

pub struct MuteBridge {
    /// What the next telemetry messages say.
    pub telemetry: Arc<Mutex<Telemetry>>,
    /// Topics of the commands heard.
    pub commands: UnboundedReceiver<String>,
}

/// On the ground at `at`, disarmed, full battery.
pub fn parked(drone: &str, at: Point) -> Telemetry {
    Telemetry {
        v: wire::VERSION,
        drone: drone.into(),
        ts_ms: 0,
        lat_deg: at.y(),
        lon_deg: at.x(),
        alt_msl_m: 25.0,
        alt_rel_m: 0.0,
        vel_north_mps: 0.0,
        vel_east_mps: 0.0,
        vel_down_mps: 0.0,
        heading_deg: None,
        battery_pct: Some(100.0),
        battery_v: Some(25.0),
        mode: FlightMode::Hold,
        armed: false,
        landed: LandedState::OnGround,
        mission_seq: None,
        mission_total: None,
    }
}

impl MuteBridge {
    pub async fn start(broker_port: u16, drone: &str, at: Point) -> MuteBridge {
        let mut options = MqttOptions::new(format!("mute-{drone}"), "127.0.0.1", broker_port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let (commands_tx, commands) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                if let Event::Incoming(Packet::Publish(p)) = event {
                    let _ = commands_tx.send(p.topic);
                }
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
        let topic = Topic::new(drone, Channel::Telemetry).name();
        tokio::spawn(async move {
            loop {
                let t = sample.lock().unwrap().clone();
                if client
                    .publish(topic.clone(), QoS::AtMostOnce, false, wire::encode(&t))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        MuteBridge {
            telemetry,
            commands,
        }
    }
}
