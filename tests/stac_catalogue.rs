//! The imagery catalogue as a STAC API over HTTP, against SQLite and (when
//! it answers) PostgreSQL: each photo is an Item with its ground footprint,
//! a department sees only its own collection, /search filters by bbox,
//! intersects and datetime with paging; stac-api-validator and
//! pystac-client (PyPI) judge it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{config, point_task, wait_for_fleet, wait_for_state, Api};
use geo::{Contains, Destination, Haversine, Point};
use serde_json::json;
use skyshare::demo::{self, RunningDemo};
use skyshare::region::Region;

struct Flown {
    urban_target: Point,
    env_target: Point,
}

/// Two departments each get a point inspection flown (3 photos each).
async fn fly_two(demo: &RunningDemo) -> Flown {
    let api = Api::new(demo);
    let region = Region::demo();
    let urban = demo.token("urban-management");
    let env = demo.token("environment");
    wait_for_fleet(&api, urban).await;
    let targets: Vec<Point> = region.docks[..2]
        .iter()
        .map(|dock| Haversine.destination(dock.position, 20.0, 150.0))
        .collect();
    let mut ids = Vec::new();
    for (token, t) in [(urban, targets[0]), (env, targets[1])] {
        let (status, body) = api
            .post(token, "/api/v1/tasks", &point_task(t.x(), t.y(), "visible"))
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    wait_for_state(&api, urban, &ids[0], "completed", Duration::from_secs(60)).await;
    wait_for_state(&api, env, &ids[1], "completed", Duration::from_secs(60)).await;
    Flown {
        urban_target: targets[0],
        env_target: targets[1],
    }
}

fn around(p: Point, d: f64) -> [f64; 4] {
    [p.x() - d, p.y() - d, p.x() + d, p.y() + d]
}

async fn catalogue_is_searchable(demo: &RunningDemo, flown: &Flown) {
    let api = Api::new(demo);
    let urban = demo.token("urban-management");
    let pilot = &demo.pilot_token;
    let root = "/api/v1/stac";

    let (status, landing) = api.get(urban, root).await;
    assert_eq!(status, 200);
    assert_eq!(landing["stac_version"], "1.1.0");
    assert!(landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["rel"] == "search"));
    let (_, mine) = api.get(urban, &format!("{root}/collections")).await;
    let ids: Vec<&str> = mine["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["urban-management"]);
    let (_, all) = api.get(pilot, &format!("{root}/collections")).await;
    assert_eq!(all["collections"].as_array().unwrap().len(), 3);
    assert_eq!(
        api.get(urban, &format!("{root}/collections/environment"))
            .await
            .0,
        404
    );

    // Everything urban may see: its three photos, none of environment's,
    // even when it asks for environment's collection.
    let (status, found) = api.get(urban, &format!("{root}/search?limit=100")).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["numberMatched"], 3, "{found}");
    let (_, other) = api
        .get(urban, &format!("{root}/search?collections=environment"))
        .await;
    assert_eq!(other["numberMatched"], 0, "{other}");
    let [w, s, e, n] = around(flown.env_target, 0.002);
    let (_, env_area) = api
        .get(pilot, &format!("{root}/search?bbox={w},{s},{e},{n}"))
        .await;
    assert_eq!(env_area["numberMatched"], 3, "{env_area}");
    assert!(env_area["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["collection"] == "environment"));

    // Each item: a footprint polygon around the camera, the nadir GSD at
    // the photo's height, the flight's time.
    for item in found["features"].as_array().unwrap() {
        assert_eq!(item["geometry"]["type"], "Polygon", "{item}");
        let ring: Vec<(f64, f64)> = item["geometry"]["coordinates"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        let polygon = geo::Polygon::new(geo::LineString::from(ring), vec![]);
        let p = &item["properties"];
        let camera = Point::new(
            p["skyshare:camera_lon_deg"].as_f64().unwrap(),
            p["skyshare:camera_lat_deg"].as_f64().unwrap(),
        );
        assert!(polygon.contains(&camera), "{item}");
        let height = p["skyshare:alt_rel_m"].as_f64().unwrap();
        let gsd = p["gsd"].as_f64().unwrap();
        assert!(
            (gsd - height * 13.2 / (8.8 * 5472.0)).abs() < 1e-6,
            "{item}"
        );
        assert!(p["datetime"].as_str().unwrap().ends_with('Z'));
        assert_eq!(item["collection"], "urban-management");
    }

    // Paging: one per page, following `next` visits all three once.
    let mut seen = Vec::new();
    let mut next = Some(format!("{root}/search?limit=1"));
    while let Some(href) = next {
        let (status, page) = api.get(urban, &href).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            page["numberReturned"],
            page["features"].as_array().unwrap().len()
        );
        seen.extend(
            page["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_owned()),
        );
        next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| {
                let full = l["href"].as_str().unwrap();
                full[full.find("/api/v1/stac").unwrap()..].to_owned()
            });
        assert!(seen.len() <= 3, "{seen:?}");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);

    // POST: intersects, datetime, and refusals.
    let [w, s, e, n] = around(flown.urban_target, 0.001);
    let square =
        json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]});
    let (status, hit) = api
        .post(
            urban,
            &format!("{root}/search"),
            &json!({"intersects": square}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{hit}");
    assert_eq!(hit["numberMatched"], 3, "{hit}");
    let far = json!({"type": "Point", "coordinates": [flown.urban_target.x() + 0.05, flown.urban_target.y()]});
    let (_, miss) = api
        .post(
            urban,
            &format!("{root}/search"),
            &json!({"intersects": far}).to_string(),
        )
        .await;
    assert_eq!(miss["numberMatched"], 0, "{miss}");
    let (_, old) = api
        .post(
            urban,
            &format!("{root}/search"),
            &json!({"datetime": "2000-01-01T00:00:00Z/2000-12-31T00:00:00Z"}).to_string(),
        )
        .await;
    assert_eq!(old["numberMatched"], 0, "{old}");
    let (_, recent) = api
        .post(
            urban,
            &format!("{root}/search"),
            &json!({"datetime": "2020-01-01T00:00:00Z/.."}).to_string(),
        )
        .await;
    assert_eq!(recent["numberMatched"], 3, "{recent}");
    for (body, at) in [
        (
            json!({"intersects": square, "bbox": [w, s, e, n]}),
            "intersects",
        ),
        (json!({"datetime": "2020-13-01"}), "datetime"),
        (json!({"bbox": [1, 2, 3]}), "bbox"),
        (json!({"intersects": {"type": "Circle"}}), "intersects"),
    ] {
        let (status, reply) = api
            .post(urban, &format!("{root}/search"), &body.to_string())
            .await;
        assert_eq!(
            (status, reply["error"]["where"].as_str()),
            (400, Some(at)),
            "{body} -> {reply}"
        );
    }
    let (status, clamped) = api.get(urban, &format!("{root}/search?limit=100000")).await;
    assert_eq!((status, clamped["numberReturned"].as_i64()), (200, Some(3)));
    let item_id = found["features"][0]["id"].as_str().unwrap();
    let (status, item) = api
        .get(
            urban,
            &format!("{root}/collections/urban-management/items/{item_id}"),
        )
        .await;
    assert_eq!((status, item["id"].as_str()), (200, Some(item_id)));
    assert_eq!(
        api.get(
            demo.token("environment"),
            &format!("{root}/collections/urban-management/items/{item_id}")
        )
        .await
        .0,
        404
    );
}

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn skip_or_fail(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing in CI: pip install -r scripts/requirements-test.txt"
    );
    println!("SKIPPED: {what} not installed (pip install -r scripts/requirements-test.txt)");
}

async fn run(cmd: Vec<String>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&cmd[0]).args(&cmd[1..]).output().unwrap();
        (
            out.status.success(),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
    .await
    .unwrap()
}

/// stac-api-validator (offline wrapper from /work/shared/tools) and a
/// pystac-client search, as a department user.
async fn third_party_clients_agree(demo: &RunningDemo, flown: &Flown) {
    let root = format!("http://{}/api/v1/stac", demo.http_addr);
    let token = demo.token("urban-management").to_owned();
    let wrapper = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tools/stac_api_validator_offline.py");
    let wrapper = if wrapper.exists() {
        wrapper
    } else {
        "/work/shared/tools/stac_api_validator_offline.py".into()
    };
    if !python_has("stac_api_validator") || !wrapper.exists() {
        skip_or_fail("stac-api-validator");
    } else {
        let [w, s, e, n] = around(flown.urban_target, 0.001);
        let geometry =
            json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
                .to_string();
        let mut cmd: Vec<String> = vec![
            "python3".into(),
            wrapper.display().to_string(),
            "--root-url".into(),
            root.clone(),
        ];
        for c in ["core", "item-search", "collections"] {
            cmd.extend(["--conformance".into(), c.into()]);
        }
        cmd.extend([
            "--collection".into(),
            "urban-management".into(),
            "--geometry".into(),
            geometry,
            "-H".into(),
            format!("Authorization: Bearer {token}"),
        ]);
        let (ok, output) = run(cmd).await;
        assert!(ok, "stac-api-validator failed:\n{output}");
        assert!(!output.contains("CRITICAL"), "{output}");
        assert!(
            output.contains("Errors: none"),
            "stac-api-validator reported errors:\n{output}"
        );
    }
    if !python_has("pystac_client") {
        skip_or_fail("pystac-client");
        return;
    }
    let [w, s, e, n] = around(flown.urban_target, 0.002);
    let script = format!(
        "import sys\nfrom pystac_client import Client\nc = Client.open(sys.argv[1], headers={{'Authorization': 'Bearer ' + sys.argv[2]}})\n\
         s = c.search(bbox=[{w}, {s}, {e}, {n}], limit=2)\nitems = list(s.items())\nprint(len(items), s.matched(), sorted({{i.collection_id for i in items}}))\n"
    );
    let (ok, output) = run(vec!["python3".into(), "-c".into(), script, root, token]).await;
    assert!(ok, "pystac-client failed:\n{output}");
    assert_eq!(output.trim(), "3 3 ['urban-management']", "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stac_catalogue_serves_footprints_by_department_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 2, None, None))
        .await
        .unwrap();
    let flown = fly_two(&demo).await;
    catalogue_is_searchable(&demo, &flown).await;
    third_party_clients_agree(&demo, &flown).await;
    demo.stop().await;
}

fn answers(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(300)).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stac_catalogue_serves_footprints_by_department_with_postgresql() {
    if !answers("127.0.0.1:5432") {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return;
    }
    let schema = format!("stac_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 2, None, Some(url)))
        .await
        .unwrap();
    let flown = fly_two(&demo).await;
    catalogue_is_searchable(&demo, &flown).await;
    demo.stop().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
