//! The first end-to-end path on real parts: HTTP -> dispatcher -> MQTT
//! broker -> firmware-bridge -> MAVLink over UDP -> simulated drone, and back.
//! Everything runs in this process on ports the OS picks.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_state, Api};
use geo::{Destination, Distance, Haversine, Point};
use serde_json::json;
use skyshare::demo::{self, RunningDemo};
use skyshare::region::Region;

/// Two departments each submit a point inspection near a different dock;
/// both fly, both complete, the drones are back on their docks and each
/// task's photos are stored with positions near its target.
async fn two_tasks_fly_and_complete(demo: RunningDemo) {
    let api = Api::new(&demo);
    let region = Region::demo();
    let urban = demo.token("urban-management").to_owned();
    let env = demo.token("environment").to_owned();

    // Wait for the fleet to report in (bridges online, telemetry flowing).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, fleet) = api.get(&urban, "/api/v1/fleet").await;
        let drones = fleet["drones"].as_array().unwrap();
        if drones
            .iter()
            .all(|d| d["online"] == true && d["telemetry"]["battery_pct"].is_number())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fleet never came online: {fleet}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let targets: Vec<Point> = region.docks[..2]
        .iter()
        .map(|dock| Haversine.destination(dock.position, 20.0, 150.0))
        .collect();
    let (s1, t1) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &point_task(targets[0].x(), targets[0].y(), "visible"),
        )
        .await;
    let (s2, t2) = api
        .post(
            &env,
            "/api/v1/tasks",
            &point_task(targets[1].x(), targets[1].y(), "visible"),
        )
        .await;
    assert_eq!((s1, s2), (201, 201), "{t1} {t2}");
    let (id1, id2) = (t1["id"].as_str().unwrap(), t2["id"].as_str().unwrap());

    // A department cannot see another's task.
    assert_eq!(api.get(&env, &format!("/api/v1/tasks/{id1}")).await.0, 404);

    let done1 = wait_for_state(&api, &urban, id1, "completed", Duration::from_secs(90)).await;
    let done2 = wait_for_state(&api, &env, id2, "completed", Duration::from_secs(90)).await;
    assert_ne!(
        done1["drone_id"], done2["drone_id"],
        "nearest drones differ: {done1} {done2}"
    );
    assert_eq!(done1["progress_seq"], done1["progress_total"]);

    for (token, id, target) in [(&urban, id1, targets[0]), (&env, id2, targets[1])] {
        let (status, body) = api.get(token, &format!("/api/v1/images?task={id}")).await;
        assert_eq!(status, 200);
        let images = body["images"].as_array().unwrap();
        assert_eq!(images.len(), 3, "{body}");
        for image in images {
            let at = Point::new(
                image["lon_deg"].as_f64().unwrap(),
                image["lat_deg"].as_f64().unwrap(),
            );
            let off = Haversine.distance(at, target);
            assert!(
                (10.0..35.0).contains(&off),
                "photo {off:.1} m from target, orbit radius 20 m: {image}"
            );
            assert!(image["alt_rel_m"].as_f64().unwrap() > 30.0, "{image}");
        }
    }

    // Back on the docks, disarmed, and free again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, fleet) = api.get(&urban, "/api/v1/fleet").await;
        let settled = fleet["drones"].as_array().unwrap().iter().all(|d| {
            let t = &d["telemetry"];
            let dock = region.dock(d["dock_id"].as_str().unwrap()).unwrap();
            let here = Point::new(
                t["lon_deg"].as_f64().unwrap(),
                t["lat_deg"].as_f64().unwrap(),
            );
            t["landed"] == "on_ground"
                && t["armed"] == false
                && d["task_id"].is_null()
                && Haversine.distance(here, dock.position) < 15.0
        });
        if settled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "drones not back on docks: {fleet}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tasks_complete_with_embedded_broker_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 2, None, None))
        .await
        .unwrap();
    two_tasks_fly_and_complete(demo).await;
}

fn answers(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(300)).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tasks_complete_with_mosquitto_and_postgresql() {
    if !answers("127.0.0.1:1883") || !answers("127.0.0.1:5432") {
        println!("SKIPPED: needs Mosquitto on 127.0.0.1:1883 and PostgreSQL on 127.0.0.1:5432");
        return;
    }
    // A private schema per run keeps runs apart in the shared `test` database.
    let schema = format!("e2e_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(
        dir.path(),
        2,
        Some("mqtt://127.0.0.1:1883".into()),
        Some(url),
    ))
    .await
    .unwrap();
    two_tasks_fly_and_complete(demo).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}

/// Bad requests get a 4xx whose JSON names what was wrong and where, and
/// nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_where_and_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 2, None, None))
        .await
        .unwrap();
    let api = Api::new(&demo);
    let token = demo.token("urban-management").to_owned();
    let cases: Vec<(String, String, u16, &str)> = vec![
        (token.clone(), point_task(114.30, 30.50, "visible"), 422, "geometry"),
        (token.clone(), point_task(114.408, 30.5015, "visible"), 422, "geometry"),
        (token.clone(), point_task(30.50, 114.40, "visible"), 422, "geometry.coordinates"),
        (token.clone(), point_task(114.40, 30.50, "multispectral"), 422, "sensor"),
        // GeoJSON coordinates are read by geometry type, so a wrong shape
        // there is an invalid task rather than an unreadable body.
        (token.clone(), r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":"x"},"alt_m":40,"sensor":"visible"}"#.into(), 422, "geometry.coordinates"),
        (token.clone(), r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[114.4,30.5]},"alt_m":"high","sensor":"visible"}"#.into(), 400, "alt_m"),
        (token.clone(), r#"{"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.401,30.50],[114.401,30.501]]]},"alt_m":40,"sensor":"visible"}"#.into(), 422, "geometry.coordinates"),
        (token.clone(), r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[114.4,30.5]},"alt_m":40,"sensor":"visible","colour":"red"}"#.into(), 400, "colour"),
        (token.clone(), "{not json".into(), 400, "body"),
        (token.clone(), r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[114.4,30.5]},"alt_m":40,"sensor":"visible","window":{"end":"2020-01-01T00:00:00Z"}}"#.into(), 422, "window.end"),
        // A 1.5 km² block at 40 m needs many battery loads; a 10-minute
        // window cannot hold them.
        (token.clone(), json!({"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.413,30.50],[114.413,30.511],[114.40,30.511],[114.40,30.50]]]},"alt_m":40,"sensor":"visible",
                               "window":{"end": (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339()}}).to_string(), 422, "window.end"),
        ("wrong-token".into(), point_task(114.40, 30.50, "visible"), 401, "header Authorization"),
    ];
    for (tok, body, want, at) in cases {
        let (status, reply) = api.post(&tok, "/api/v1/tasks", &body).await;
        assert_eq!(status, want, "{body} -> {reply}");
        assert_eq!(reply["error"]["where"], at, "{body} -> {reply}");
        assert!(!reply["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, prohibited) = api
        .post(
            &token,
            "/api/v1/tasks",
            &point_task(114.408, 30.5015, "visible"),
        )
        .await;
    assert!(
        prohibited["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Z-HOSP"),
        "{prohibited}"
    );
    let (_, list) = api.get(&token, "/api/v1/tasks").await;
    assert_eq!(
        list["tasks"].as_array().unwrap().len(),
        0,
        "nothing stored: {list}"
    );
    demo.stop().await;
}
