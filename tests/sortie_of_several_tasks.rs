//! A sortie that flies several tasks: one drone, busy with a first task,
//! comes back and takes the next two nearby tasks in one flight; progress
//! and photos are credited to the right task of the two.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{config, point_task, wait_for_fleet, wait_for_state, Api};
use geo::{Destination, Distance, Haversine, Point};
use skyshare::demo;
use skyshare::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_queued_tasks_near_each_other_fly_in_one_sortie_each_with_its_own_photos() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&running);
    let region = Region::demo();
    let urban = running.token("urban-management").to_owned();
    let water = running.token("environment").to_owned();
    wait_for_fleet(&api, &urban).await;

    // The fleet's only drone docks at the first dock.
    let dock = region.docks[0].position;
    let first = Haversine.destination(dock, 90.0, 150.0);
    let (status, body) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(first.x(), first.y(), "visible"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let first_id = body["id"].as_str().unwrap().to_owned();
    wait_for_state(
        &api,
        &urban,
        &first_id,
        "in_flight",
        Duration::from_secs(30),
    )
    .await;

    // Two more, 120 m apart, from two departments, while the drone is out.
    let targets: Vec<Point> = [0.0, 40.0]
        .iter()
        .map(|&bearing| Haversine.destination(dock, bearing, 200.0))
        .collect();
    let mut ids = Vec::new();
    for (token, target) in [(&urban, targets[0]), (&water, targets[1])] {
        let (status, body) = api
            .post(
                token,
                "/api/v1/tasks",
                &point_task(target.x(), target.y(), "visible"),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // While they wait, they say what holds them.
    let (_, waiting) = api.get(&urban, &format!("/api/v1/tasks/{}", ids[0])).await;
    if waiting["state"] == "queued" {
        let reason = waiting["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("flying or charging") || reason.contains("waiting for the scheduler"),
            "{waiting}"
        );
    }

    // Watch the fleet until both are done: they must share a flight. Only
    // a pilot sees both departments' task ids on a drone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut shared_a_flight = false;
    loop {
        let (_, fleet) = api.get(&running.pilot_token, "/api/v1/fleet").await;
        let flying: HashSet<String> = fleet["drones"][0]["task_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        shared_a_flight |= ids.iter().all(|id| flying.contains(id));
        let (_, a) = api.get(&urban, &format!("/api/v1/tasks/{}", ids[0])).await;
        let (_, b) = api.get(&water, &format!("/api/v1/tasks/{}", ids[1])).await;
        if a["state"] == "completed" && b["state"] == "completed" {
            break;
        }
        for t in [&a, &b] {
            assert_ne!(t["state"], "failed", "{t}");
        }
        assert!(tokio::time::Instant::now() < deadline, "{a}\n{b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shared_a_flight, "the two tasks flew in separate sorties");
    wait_for_state(&api, &urban, &first_id, "completed", Duration::from_secs(5)).await;

    for ((token, id), target) in [(&urban, &ids[0]), (&water, &ids[1])]
        .into_iter()
        .zip(&targets)
    {
        let (_, task) = api.get(token, &format!("/api/v1/tasks/{id}")).await;
        assert_eq!(task["progress_seq"], task["progress_total"], "{task}");
        let (_, body) = api.get(token, &format!("/api/v1/images?task={id}")).await;
        let images = body["images"].as_array().unwrap();
        assert_eq!(images.len(), 3, "{body}");
        for image in images {
            let at = Point::new(
                image["lon_deg"].as_f64().unwrap(),
                image["lat_deg"].as_f64().unwrap(),
            );
            let off = Haversine.distance(at, *target);
            assert!(
                (10.0..35.0).contains(&off),
                "photo {off:.1} m from its own task's target: {image}"
            );
        }
    }
    running.stop().await;
}
