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

/// A sortie of two tasks, its dispatcher stopped while the drone is part
/// way through the first task's items: the rest of the first task and all
/// of the second are flown while no dispatcher runs. The restarted one
/// reads the stored flight (which items are whose, the last one reached)
/// and credits every item and photo to its own task: each task ends with
/// exactly its own items counted and its own three photos, none lost and
/// none given to the other task.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_restarted_mid_sortie_credits_each_task_its_own_items_and_photos() {
    let parts = standalone::start().await;
    let (broker, store) = (&parts.broker, &parts.store);
    let dock = parts.region.docks[0].clone();
    let everything = CancellationToken::new();

    let sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: "pair-1".into(),
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
        ..BridgeConfig::new("pair-1", format!("udpout:{vehicle}"), broker.url())
    };
    tokio::spawn(firmware_bridge::run(bridge, everything.clone()));

    const PAIR_CLIENT_ID: &str = "skyshare-dispatcher-restart-pair-test";
    let first = parts.dispatcher("pair-1", Duration::from_secs(60), Some(PAIR_CLIENT_ID));
    let first_stop = CancellationToken::new();
    let first_run = tokio::spawn(first.clone().run(first_stop.clone()));
    // Both queued before the drone reports in, so one round plans them
    // together into one sortie.
    let targets = [
        Haversine.destination(dock.position, 60.0, 250.0),
        Haversine.destination(dock.position, 120.0, 250.0),
    ];
    let mut ids = Vec::new();
    for target in targets {
        let task = first
            .submit("water", standalone::inspection(target, 20.0, 3))
            .await
            .unwrap();
        ids.push(task.id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let view = first.fleet_view();
        if view[0].task_ids.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the two tasks never shared a sortie: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The order flown is the planner's; stop once the first task flown has
    // reached some but not all of its items.
    let flown_first = first.fleet_view()[0].task_ids[0].clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let t = store.task(&flown_first).await.unwrap().unwrap();
        if t.progress_seq.is_some_and(|s| s >= 1) && t.state == "in_flight" {
            break;
        }
        assert_ne!(t.state, "completed", "stopped too late: {t:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never started: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first_stop.cancel();
    first_run.await.unwrap().unwrap();
    drop(first);
    // 90 s of simulated flight: both tasks are finished meanwhile.
    tokio::time::sleep(Duration::from_secs(15)).await;

    let second = parts.dispatcher("pair-1", Duration::from_secs(60), Some(PAIR_CLIENT_ID));
    let second_stop = CancellationToken::new();
    tokio::spawn(second.clone().run(second_stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let t = store.task(id).await.unwrap().unwrap();
            if t.state == "completed" {
                break;
            }
            assert_ne!(t.state, "failed", "{t:?}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "never completed: {t:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Exactly where it was: each task's own items, counted against its own
    // total (look-at, three orbit points, three photos).
    for (id, target) in ids.iter().zip(targets) {
        let t = store.task(id).await.unwrap().unwrap();
        assert_eq!(
            (t.progress_seq, t.progress_total),
            (Some(7), Some(7)),
            "{t:?}"
        );
        let images = store.images_of_task(id, "water").await.unwrap();
        assert_eq!(images.len(), 3, "task {id}: {images:?}");
        for image in images {
            let at = geo::Point::new(image.lon_deg, image.lat_deg);
            let off = geo::Distance::distance(&Haversine, at, target);
            assert!(off < 40.0, "a photo {off:.0} m from its own task's target");
        }
    }
    // The stored flight ends when the drone is back on its dock.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let flights = loop {
        let flights = store.flights_of_drone("pair-1").await.unwrap();
        assert_eq!(flights.len(), 1, "{flights:?}");
        if flights[0].state == "landed" {
            break flights;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never landed: {flights:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(flights[0].tasks.iter().all(|t| t.finished), "{flights:?}");
    second_stop.cancel();
    everything.cancel();
}
