//! A dispatcher stopped mid-mission and started again resumes where it was:
//! its MQTT session is persistent, so the broker keeps the events the drone
//! sends while no dispatcher is running, and the new one applies them from
//! the store's state. Real parts: embedded broker, simulated drone over
//! MAVLink, the bridge, SQLite.

mod common;

use std::time::Duration;

use common::standalone;

use firmware_bridge::BridgeConfig;
use geo::{Destination, Haversine};
use simulator::{GeoPoint, SimConfig, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

const CLIENT_ID: &str = "skyshare-dispatcher-restart-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_restarted_mid_mission_completes_the_task_with_every_photo() {
    let parts = standalone::start().await;
    let (broker, store) = (&parts.broker, &parts.store);
    let dock = parts.region.docks[0].clone();
    let everything = CancellationToken::new();

    let sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: "square-1".into(),
            system_id: 1,
            home: GeoPoint {
                lat_deg: dock.position.y(),
                lon_deg: dock.position.x(),
                alt_msl_m: dock.alt_msl_m,
            },
            port: 0,
        }],
        speedup: 6.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    })
    .await
    .unwrap();
    let vehicle = sim.addresses()[0].1;
    tokio::spawn(sim.run(everything.clone()));
    let spool = tempfile::tempdir().unwrap();
    let bridge = BridgeConfig {
        spool_dir: Some(spool.path().to_path_buf()),
        ..BridgeConfig::new("square-1", format!("udpout:{vehicle}"), broker.url())
    };
    tokio::spawn(firmware_bridge::run(bridge, everything.clone()));

    let first = parts.dispatcher("square-1", Duration::from_secs(60), Some(CLIENT_ID));
    let first_stop = CancellationToken::new();
    let first_run = tokio::spawn(first.clone().run(first_stop.clone()));
    // Ready once the drone reports in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while first.fleet_view()[0]
        .telemetry
        .as_ref()
        .is_none_or(|t| t.battery_pct.is_none())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the drone never reported in"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let target = Haversine.destination(dock.position, 60.0, 250.0);
    let task = first
        .submit("water", standalone::inspection(target, 20.0, 3))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let t = store.task(&task.id).await.unwrap().unwrap();
        if t.state == "in_flight" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never flew: {t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stop the dispatcher while the drone flies on, and leave it down long
    // enough (60 s of simulated flight) for the drone to reach its orbit and
    // take its photos meanwhile. With a clean session instead, those events
    // are gone and the task ends with none of its 3 photos.
    first_stop.cancel();
    first_run.await.unwrap().unwrap();
    drop(first);
    tokio::time::sleep(Duration::from_secs(10)).await;

    let second = parts.dispatcher("square-1", Duration::from_secs(60), Some(CLIENT_ID));
    let second_stop = CancellationToken::new();
    tokio::spawn(second.clone().run(second_stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let t = store.task(&task.id).await.unwrap().unwrap();
        if t.state == "completed" {
            break t;
        }
        assert_ne!(t.state, "failed", "{t:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never completed: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let images = store.images_of_task(&task.id, "water").await.unwrap();
    assert_eq!(
        images.len(),
        3,
        "every photo, including those taken while no dispatcher ran"
    );
    assert_eq!(done.drone_id.as_deref(), Some("square-1"));
    second_stop.cancel();
    everything.cancel();
}
