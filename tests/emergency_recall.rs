//! Emergency preemption: with the only drone out on routine survey work,
//! an emergency request recalls it; the emergency flies first, and the
//! survey goes back to the queue and is flown afterwards. Nothing is lost.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_fleet, wait_for_state, Api};
use geo::{Destination, Haversine};
use serde_json::{json, Value};
use skyshare::demo;
use skyshare::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emergency_recalls_the_drone_from_routine_work_which_is_requeued_and_flown_after() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&running);
    let region = Region::demo();
    let routine = running.token("environment").to_owned();
    let emergency = running.token("emergency-response").to_owned();
    wait_for_fleet(&api, &routine).await;

    let dock = region.docks[0].position;
    let corner = Haversine.destination(dock, 45.0, 100.0);
    let east = Haversine.destination(corner, 90.0, 160.0);
    let north_east = Haversine.destination(east, 0.0, 100.0);
    let north = Haversine.destination(corner, 0.0, 100.0);
    let ring: Vec<[f64; 2]> = [corner, east, north_east, north, corner]
        .iter()
        .map(|p| [p.x(), p.y()])
        .collect();
    let survey = json!({"kind": "area_survey", "geometry": {"type": "Polygon", "coordinates": [ring]},
                        "alt_m": 40, "sensor": "visible"});
    let (status, body) = api
        .post(&routine, "/api/v1/tasks", &survey.to_string())
        .await;
    assert_eq!(status, 201, "{body}");
    let survey_id = body["id"].as_str().unwrap().to_owned();
    wait_for_state(
        &api,
        &routine,
        &survey_id,
        "in_flight",
        Duration::from_secs(30),
    )
    .await;

    let fire = Haversine.destination(dock, 200.0, 250.0);
    let mut request: Value =
        serde_json::from_str(&point_task(fire.x(), fire.y(), "visible")).unwrap();
    request["priority"] = json!("emergency");
    let (status, body) = api
        .post(&emergency, "/api/v1/tasks", &request.to_string())
        .await;
    assert_eq!(status, 201, "{body}");
    let fire_id = body["id"].as_str().unwrap().to_owned();

    // Watch until the emergency is done. There is one drone, and it was
    // flying the survey when the emergency came in: the emergency can only
    // finish before the survey if the drone was recalled from it. (The
    // survey's "recalled" reason is soon replaced by its next forecast, too
    // soon to be sure a poll sees it.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (_, s) = api
            .get(&routine, &format!("/api/v1/tasks/{survey_id}"))
            .await;
        let (_, f) = api
            .get(&emergency, &format!("/api/v1/tasks/{fire_id}"))
            .await;
        assert_ne!(f["state"], "failed", "{f}");
        assert_ne!(s["state"], "failed", "{s}");
        if f["state"] == "completed" {
            assert_ne!(
                s["state"], "completed",
                "the survey finished before the emergency: {s}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{f}\n{s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The routine work is not lost: it flies again and completes.
    wait_for_state(
        &api,
        &routine,
        &survey_id,
        "completed",
        Duration::from_secs(120),
    )
    .await;
    running.stop().await;
}
