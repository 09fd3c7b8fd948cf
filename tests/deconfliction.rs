//! Strategic deconfliction between the fleet's own flights: two drones on
//! one dock, two tasks at the same place. The second sortie would share the
//! first one's airspace at the same time, so it is held, says why, and
//! flies once the first drone is down.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_fleet, wait_for_state, Api};
use geo::{Destination, Haversine};
use skyshare::demo;
use skyshare::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sortie_through_another_flights_airspace_waits_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut region = Region::demo();
    region.docks.truncate(1);
    let mut demo_config = config(dir.path(), 2, None, None);
    demo_config.region = region.clone();
    // Slow enough that the first flight is still out when the second task
    // arrives.
    demo_config.speedup = 8.0;
    let running = demo::start(demo_config).await.unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let water = running.token("environment").to_owned();
    wait_for_fleet(&api, &urban).await;

    let target = Haversine.destination(region.docks[0].position, 0.0, 150.0);
    let body = point_task(target.x(), target.y(), "visible");
    let (status, first) = api.post(&urban, "/api/v1/tasks", &body).await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, task) = api.get(&urban, &format!("/api/v1/tasks/{first_id}")).await;
        if task["state"] == "assigned" || task["state"] == "in_flight" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, second) = api.post(&water, "/api/v1/tasks", &body).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut held = None;
    loop {
        let (_, task) = api.get(&water, &format!("/api/v1/tasks/{second_id}")).await;
        if let Some(reason) = task["reason"].as_str() {
            if reason.contains("keep clear of drone") || reason.contains("share airspace") {
                held = Some(reason.to_owned());
            }
        }
        if task["state"] == "completed" {
            break;
        }
        assert_ne!(task["state"], "failed", "{task}");
        assert!(tokio::time::Instant::now() < deadline, "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held = held.expect("the second sortie was never held for the first");
    let (_, first) = api.get(&urban, &format!("/api/v1/tasks/{first_id}")).await;
    let first_drone = first["drone_id"].as_str().unwrap();
    assert!(
        held.contains(first_drone),
        "names the flight in the way: {held}"
    );
    wait_for_state(
        &api,
        &urban,
        &first_id,
        "completed",
        Duration::from_secs(30),
    )
    .await;
    running.stop().await;
}
