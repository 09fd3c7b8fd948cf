//! Temporary restrictions at run time: an administrator puts a prohibited
//! area in force over a flight in progress; the answer names that flight;
//! new work there is refused naming the restriction; lifted, it is accepted
//! again. Departments cannot create restrictions. Against SQLite and (when
//! it answers) PostgreSQL.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_fleet, Api};
use geo::{Destination, Haversine, Point};
use serde_json::{json, Value};
use skyshare::demo;
use skyshare::region::Region;

fn square_around(centre: Point, half_m: f64) -> Vec<[f64; 2]> {
    let corner = |bearing: f64| {
        let p = Haversine.destination(centre, bearing, half_m * std::f64::consts::SQRT_2);
        [p.x(), p.y()]
    };
    let ring = vec![corner(45.0), corner(135.0), corner(225.0), corner(315.0)];
    let mut closed = ring.clone();
    closed.push(ring[0]);
    closed
}

async fn scenario(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut demo_config = config(dir.path(), 2, None, database_url);
    // Slow enough that the flight is still out when the restriction comes.
    demo_config.speedup = 4.0;
    let running = demo::start(demo_config).await.unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let admin = running.admin_token.clone();
    wait_for_fleet(&api, &urban).await;

    let region = Region::demo();
    let target = Haversine.destination(region.docks[0].position, 30.0, 300.0);
    // Another place, away from the first, for a restriction that ends.
    let second = Haversine.destination(region.docks[0].position, 210.0, 300.0);
    let (status, task) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(target.x(), target.y(), "visible"),
        )
        .await;
    assert_eq!(status, 201, "{task}");
    let id = task["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let drone = loop {
        let (_, t) = api.get(&urban, &format!("/api/v1/tasks/{id}")).await;
        if t["state"] == "in_flight" {
            break t["drone_id"].as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let restriction = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "TR-FIRE", "name": "Fire at the works", "kind": "prohibited",
                       "reason": "Firefighting helicopters"},
        "geometry": {"type": "Polygon", "coordinates": [square_around(target, 80.0)]}
    }]})
    .to_string();
    let (status, refused) = api.post(&urban, "/api/v1/restrictions", &restriction).await;
    assert_eq!(
        status, 403,
        "a department cannot create restrictions: {refused}"
    );

    let (status, created) = api.post(&admin, "/api/v1/restrictions", &restriction).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["restrictions"], json!(["TR-FIRE"]));
    let affected: Vec<&Value> = created["affected_flights"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        affected.iter().any(|f| f["drone"] == drone.as_str()),
        "the flight in progress is named: {created}"
    );
    // The flight is called home before it reaches the restriction, and its
    // task goes back to the queue, where the airspace as it now is holds or
    // refuses it: it is never completed inside the restriction.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let called_home = loop {
        let (_, t) = api.get(&urban, &format!("/api/v1/tasks/{id}")).await;
        assert_ne!(t["state"], "completed", "flown inside the restriction: {t}");
        let reason = t["reason"].as_str().unwrap_or_default().to_owned();
        if t["state"] != "in_flight" && reason.contains("TR-FIRE") {
            break t;
        }
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, images) = api.get(&urban, &format!("/api/v1/images?task={id}")).await;
    assert_eq!(
        images["images"].as_array().map_or(0, Vec::len),
        0,
        "no photo taken inside the restriction: {called_home}"
    );
    let (status, again) = api.post(&admin, "/api/v1/restrictions", &restriction).await;
    assert_eq!(status, 409, "{again}");
    // The same new id asked for six times at once: one is created, the
    // others are told it exists; none fails.
    let racing = restriction.replace("TR-FIRE", "TR-RACE");
    let answers = futures_util::future::join_all(
        (0..6).map(|_| api.post(&admin, "/api/v1/restrictions", &racing)),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409], "{answers:?}");
    let (status, _) = api.delete(&admin, "/api/v1/restrictions/TR-RACE").await;
    assert!(status == 200 || status == 204, "{status}");
    // One that has already ended is not put in force.
    let ended = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "TR-OLD", "kind": "prohibited",
                       "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"},
        "geometry": {"type": "Polygon", "coordinates": [square_around(target, 80.0)]}
    }]})
    .to_string();
    let (status, answer) = api.post(&admin, "/api/v1/restrictions", &ended).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("ended"), "{answer}");
    // A bad one is refused as `POST /zones` refuses it: every problem listed.
    let bad = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "TR-BAD", "kind": "prohibited", "end": "soon"},
        "geometry": {"type": "Polygon", "coordinates": [square_around(target, 80.0)]}
    }]})
    .to_string();
    let (status, answer) = api.post(&admin, "/api/v1/restrictions", &bad).await;
    assert_eq!(status, 422, "{answer}");
    let problems = answer["error"]["problems"].as_array().expect("a list");
    assert!(
        problems
            .iter()
            .any(|p| p["feature"].as_str().unwrap_or("").contains("TR-BAD")),
        "{answer}"
    );

    let (status, listed) = api.get(&urban, "/api/v1/restrictions").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["features"][0]["properties"]["id"], "TR-FIRE",
        "{listed}"
    );

    // The console's map shows it at once.
    let (_, map) = api.get(&urban, "/api/v1/region").await;
    assert!(
        map["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["properties"]["id"] == "TR-FIRE" && f["properties"]["active"] == true),
        "restriction on the console map: {map}"
    );

    let (status, inside) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(target.x(), target.y(), "visible"),
        )
        .await;
    assert_eq!(status, 422, "{inside}");
    assert!(
        inside["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TR-FIRE"),
        "{inside}"
    );

    // A task there whose window opens after a restriction ends is judged
    // at that opening, as the airspace check judges it: accepted.
    let now = chrono::Utc::now();
    let brief = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "TR-BRIEF", "kind": "prohibited",
                       "end": (now + chrono::Duration::hours(1)).to_rfc3339()},
        "geometry": {"type": "Polygon", "coordinates": [square_around(second, 80.0)]}
    }]})
    .to_string();
    let (status, created) = api.post(&admin, "/api/v1/restrictions", &brief).await;
    assert_eq!(status, 201, "{created}");
    let (status, now_refused) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(second.x(), second.y(), "visible"),
        )
        .await;
    assert_eq!(status, 422, "in force now: {now_refused}");
    assert!(
        now_refused.to_string().contains("TR-BRIEF"),
        "{now_refused}"
    );
    let mut later: Value =
        serde_json::from_str(&point_task(second.x(), second.y(), "visible")).unwrap();
    later["window"] = json!({"start": (now + chrono::Duration::hours(2)).to_rfc3339()});
    let (status, accepted_later) = api.post(&urban, "/api/v1/tasks", &later.to_string()).await;
    assert_eq!(status, 201, "over by its window: {accepted_later}");

    let (status, _) = api.delete(&admin, "/api/v1/restrictions/TR-FIRE").await;
    assert_eq!(status, 204);
    let (status, accepted) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(target.x(), target.y(), "visible"),
        )
        .await;
    assert_eq!(status, 201, "{accepted}");

    let (_, audit) = api.get(&admin, "/api/v1/audit").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"restriction_create") && actions.contains(&"restriction_delete"),
        "{audit}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restriction_over_a_flight_names_it_refuses_new_work_there_and_lifts_with_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restriction_over_a_flight_names_it_refuses_new_work_there_and_lifts_with_postgresql() {
    let Some(pg) = common::pg::schema("restrictions").await else {
        return;
    };
    scenario(Some(pg.url.clone())).await;
    pg.drop().await;
}
