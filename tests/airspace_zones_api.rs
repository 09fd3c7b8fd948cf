//! Imported zones over HTTP: an administrator imports a zone file (all or
//! nothing, every problem listed), the zone is in force for new work at
//! once, exported as GeoJSON that reads back to the same zone, still in
//! force after a restart (stored), and deleted. Departments may not read or
//! change zones here; pilots may read. Run on SQLite and on PostgreSQL.

mod common;

use common::{config, point_task, Api};
use geo::{Destination, Haversine, Point};
use serde_json::{json, Value};
use skyshare::airspace::import;
use skyshare::demo::{self, DemoConfig};
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

fn zone_file(target: Point) -> String {
    json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"id": "Z-WORKS", "name": "Works yard", "kind": "prohibited",
                       "reason": "Crane operations", "floor_m": 0, "ceiling_m": 150,
                       "reference": "AGL"},
        "geometry": {"type": "Polygon", "coordinates": [square_around(target, 80.0)]}
    }]})
    .to_string()
}

async fn task_status(api: &Api, token: &str, target: Point) -> (u16, Value) {
    api.post(
        token,
        "/api/v1/tasks",
        &point_task(target.x(), target.y(), "visible"),
    )
    .await
}

/// The whole life of an imported zone, on the store `make_config` names.
async fn imported_zone_lifecycle(make_config: impl Fn() -> DemoConfig) {
    let running = demo::start(make_config()).await.unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let pilot = running.pilot_token.clone();
    let admin = running.admin_token.clone();
    let region = Region::demo();
    let target = Haversine.destination(region.docks[0].position, 30.0, 300.0);
    let file = zone_file(target);

    // Departments are refused everything here; pilots may read only.
    let (status, body) = api.post(&urban, "/api/v1/zones", &file).await;
    assert_eq!(status, 403, "a department cannot import zones: {body}");
    let (status, _) = api.get(&urban, "/api/v1/zones").await;
    assert_eq!(status, 403, "a department cannot export zones");
    let (status, _) = api.delete(&urban, "/api/v1/zones/Z-HOSP").await;
    assert_eq!(status, 403, "a department cannot delete zones");
    let (status, body) = api.post(&pilot, "/api/v1/zones", &file).await;
    assert_eq!(status, 403, "a pilot cannot import zones: {body}");
    let (status, _) = api.get(&pilot, "/api/v1/zones").await;
    assert_eq!(status, 200, "a pilot reads the zones");

    // A file with two bad features and one good one imports nothing and
    // names both problems.
    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "Z-OK", "kind": "prohibited"},
         "geometry": {"type": "Polygon", "coordinates": [square_around(target, 40.0)]}},
        {"type": "Feature", "properties": {"id": "Z-BAND", "kind": "prohibited", "floor_m": 120, "ceiling_m": 60},
         "geometry": {"type": "Polygon", "coordinates": [square_around(target, 40.0)]}},
        {"type": "Feature", "properties": {"id": "Z-SWAP", "kind": "prohibited"},
         "geometry": {"type": "Polygon", "coordinates": [[[30.5, 114.4], [30.51, 114.4], [30.51, 114.41], [30.5, 114.4]]]}}
    ]})
    .to_string();
    let (status, refused) = api.post(&admin, "/api/v1/zones", &bad).await;
    assert_eq!(status, 422, "{refused}");
    let problems = refused["error"]["problems"].as_array().unwrap();
    let features: Vec<&str> = problems
        .iter()
        .map(|p| p["feature"].as_str().unwrap())
        .collect();
    assert!(
        features.iter().any(|f| f.contains("Z-BAND"))
            && features.iter().any(|f| f.contains("Z-SWAP")),
        "every bad feature named: {refused}"
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("floor 120 m is above ceiling 60 m"),
        "{refused}"
    );
    let (_, export) = api.get(&admin, "/api/v1/zones").await;
    assert!(
        !export["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["properties"]["id"] == "Z-OK"),
        "nothing of a bad file is imported: {export}"
    );

    let (status, accepted) = task_status(&api, &urban, target).await;
    assert_eq!(
        status, 201,
        "before the import, work there is accepted: {accepted}"
    );

    let (status, created) = api.post(&admin, "/api/v1/zones", &file).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created, json!({"imported": ["Z-WORKS"]}));
    let (status, again) = api.post(&admin, "/api/v1/zones", &file).await;
    assert_eq!(status, 422, "an id already stored is refused: {again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already stored"),
        "{again}"
    );
    // A map zone's id is taken too.
    let (status, clash) = api
        .post(&admin, "/api/v1/zones", &file.replace("Z-WORKS", "Z-HOSP"))
        .await;
    assert_eq!(status, 422, "{clash}");

    let (status, refused) = task_status(&api, &urban, target).await;
    assert_eq!(status, 422, "in force at once: {refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Z-WORKS"),
        "{refused}"
    );

    // The export holds the map's zones and the imported one, and the
    // imported feature reads back to the zone that was imported.
    let (status, export) = api.get(&pilot, "/api/v1/zones").await;
    assert_eq!(status, 200);
    let features = export["features"].as_array().unwrap();
    assert!(
        features
            .iter()
            .any(|f| f["properties"]["id"] == "Z-HOSP" && f["properties"]["source"] == "map"),
        "{export}"
    );
    let works = features
        .iter()
        .find(|f| f["properties"]["id"] == "Z-WORKS")
        .expect("imported zone exported");
    assert_eq!(works["properties"]["source"], "imported");
    let (_, original) = import::import(&file).unwrap();
    let (_, round_trip) =
        import::import(&json!({"type": "FeatureCollection", "features": [works]}).to_string())
            .unwrap();
    assert_eq!(round_trip, original, "export reads back to the same zone");

    // Stored: a restarted dispatcher on the same store still applies it.
    running.stop().await;
    let running = demo::start(make_config()).await.unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let admin = running.admin_token.clone();
    let (status, refused) = task_status(&api, &urban, target).await;
    assert_eq!(status, 422, "still in force after a restart: {refused}");

    let (status, body) = api.delete(&admin, "/api/v1/zones/Z-HOSP").await;
    assert_eq!(status, 409, "a map zone is not deleted here: {body}");
    let (status, _) = api.delete(&admin, "/api/v1/zones/Z-WORKS").await;
    assert_eq!(status, 204);
    let (status, body) = api.delete(&admin, "/api/v1/zones/Z-WORKS").await;
    assert_eq!(status, 404, "{body}");
    let (status, accepted) = task_status(&api, &urban, target).await;
    assert_eq!(status, 201, "deleted, no longer in force: {accepted}");

    let (_, audit) = api.get(&admin, "/api/v1/audit").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"zones_import") && actions.contains(&"zone_delete"),
        "{audit}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imported_zones_are_stored_in_force_exported_and_deleted_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    imported_zone_lifecycle(move || config(&path, 1, None, None)).await;
}

fn answers(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(
        &addr.parse().unwrap(),
        std::time::Duration::from_millis(300),
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imported_zones_are_stored_in_force_exported_and_deleted_with_postgresql() {
    if !answers("127.0.0.1:5432") {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return;
    }
    // A private schema per run keeps runs apart in the shared `test` database.
    let schema = format!("zones_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    imported_zone_lifecycle(move || config(&path, 1, None, Some(url.clone()))).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
