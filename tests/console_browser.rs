//! The web console in a real browser: the demo (embedded broker, SQLite,
//! simulated fleet at 40x) plus the console router, driven by scripts in
//! `web/tests/` through playwright-core in Debian's headless Chromium.
//! `department.mjs`: a department enters its token, draws and submits an
//! area survey, watches it assigned and flown, and sees its photos on the
//! map; the airspace check shows a route's conflict before submitting; a
//! point in a prohibited zone is refused with the zone named; a corridor is
//! submitted with its width; the pilot view shows a drone's telemetry.
//! `pilot.mjs`: a pilot follows a flight on its route over the live
//! WebSocket, pauses and resumes it through confirmations, and the stream
//! reconnects by itself. Screenshots are kept under
//! target/console-screenshots/. The tests take turns (one browser and one
//! simulated fleet at a time on a small machine).
//!
//! Outside CI the test prints SKIPPED when node, Chromium or web/node_modules
//! (scripts/test runs `npm ci`) are missing; in CI (env CI set) it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{config, wait_for_fleet, Api};
use serde_json::Value;
use skyshare::demo;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// What is missing to run the browser, if anything.
fn missing_tools(web: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed".into());
    }
    if chromium().is_none() {
        return Some("Chromium is not installed (apt-get install -y chromium)".into());
    }
    if !web.join("node_modules/playwright-core").exists() {
        return Some("web/node_modules is missing (run `npm ci` in web/)".into());
    }
    None
}

static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs one script of web/tests with `env`; returns the JSON line it printed
/// last.
async fn run_script(web: &Path, script: &str, shots: &Path, env: &[(&str, String)]) -> Value {
    // Only this run's screenshots (a failure.png from an earlier run would mislead).
    let _ = std::fs::remove_dir_all(shots);
    let mut command = Command::new("node");
    command
        .arg(web.join("tests").join(script))
        .env("SCREENSHOT_DIR", shots)
        .env("CHROMIUM", chromium().unwrap());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed ({}); screenshots in {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        shots.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{script} printed no result ({e}): {stdout}"))
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_the_browser_a_department_draws_an_area_sees_it_flown_with_photos_and_a_pilot_reads_telemetry(
) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    if let Some(why) = missing_tools(&web) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {why}"
        );
        println!("SKIPPED: {why}");
        return;
    }

    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 2, None, None))
        .await
        .unwrap();
    let token = running.token("environment").to_owned();
    // The demo's own server: the API and the console with the live region.
    let addr = running.http_addr;
    wait_for_fleet(&Api::new(&running), &token).await;

    let shots = screenshot_dir().join("department");
    let seen = run_script(
        &web,
        "department.mjs",
        &shots,
        &[
            ("SKYSHARE_URL", format!("http://{addr}")),
            ("SKYSHARE_TOKEN", token.clone()),
        ],
    )
    .await;

    // What the page showed agrees with the API.
    let task_api = Api::new(&running);
    let id = seen["task_id"].as_str().unwrap();
    let (status, task) = task_api.get(&token, &format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["kind"], "area_survey", "{task}");
    assert_eq!(task["state"], "completed", "{task}");
    let (_, images) = task_api
        .get(&token, &format!("/api/v1/images?task={id}"))
        .await;
    let count = images["images"].as_array().unwrap().len() as u64;
    assert!(count > 0, "{images}");
    assert_eq!(seen["photos"].as_u64(), Some(count), "page saw {seen}");
    assert_eq!(
        seen["states"].as_array().unwrap().last().unwrap(),
        "completed"
    );
    let corridor = seen["corridor_id"].as_str().unwrap();
    let (status, task) = task_api
        .get(&token, &format!("/api/v1/tasks/{corridor}"))
        .await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["kind"], "corridor_survey", "{task}");
    assert_eq!(task["request"]["width_m"], 25.0, "{task}");
    assert!(
        seen["refusal"].as_str().unwrap().contains("Z-HOSP"),
        "{seen}"
    );
    // The pre-submit check named the zone its route crosses, and nothing
    // was stored for it: only the area and the corridor are listed.
    assert_eq!(seen["check"]["ok"], "false", "{seen}");
    assert!(
        seen["check"]["text"].as_str().unwrap().contains("Z-HOSP"),
        "{seen}"
    );
    let (_, listed) = task_api.get(&token, "/api/v1/tasks").await;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 2, "{listed}");
    for name in [
        "02-region.png",
        "06-imagery.png",
        "07-completed.png",
        "08a-check-conflict.png",
        "08-refused-in-zone.png",
        "09-corridor.png",
        "10-pilot.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_the_browser_a_pilot_follows_a_flight_on_the_live_stream_and_pauses_and_resumes_it_through_confirmations(
) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    if let Some(why) = missing_tools(&web) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {why}"
        );
        println!("SKIPPED: {why}");
        return;
    }
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // Slower than the other tests' 40x, so the flight is still in the air
    // while the page clicks through two confirmations.
    let mut slower = config(dir.path(), 2, None, None);
    slower.speedup = 10.0;
    let running = demo::start(slower).await.unwrap();
    let department = running.token("environment").to_owned();
    let pilot = running.pilot_token.clone();
    let admin = running.admin_token.clone();
    let addr = running.http_addr;
    wait_for_fleet(&Api::new(&running), &department).await;

    let shots = screenshot_dir().join("pilot");
    let seen = run_script(
        &web,
        "pilot.mjs",
        &shots,
        &[
            ("SKYSHARE_URL", format!("http://{addr}")),
            ("SKYSHARE_TOKEN", pilot.clone()),
            ("SKYSHARE_DEPARTMENT_TOKEN", department.clone()),
            ("SKYSHARE_ADMIN_TOKEN", admin.clone()),
        ],
    )
    .await;

    // The pause and the resume the page confirmed reached the drone it
    // showed, as the pilot: the audit log has both, in that order.
    let drone = seen["drone"].as_str().unwrap();
    assert!(
        seen["pause_question"].as_str().unwrap().contains(drone),
        "{seen}"
    );
    let api_client = Api::new(&running);
    let (status, audit) = api_client.get(&admin, "/api/v1/audit").await;
    assert_eq!(status, 200, "{audit}");
    let sent: Vec<(&str, &str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "drone_command")
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["detail"]["command"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [("pilot", drone, "pause"), ("pilot", drone, "resume")],
        "{audit}"
    );
    assert!(
        seen["speed_held_mps"].as_f64().unwrap() < 1.0,
        "a paused drone holds: {seen}"
    );
    // The alert the page acknowledged is acknowledged by the pilot.
    assert_eq!(seen["role"], "pilot", "{seen}");
    let alert_id = seen["acknowledged"]
        .as_str()
        .unwrap_or_else(|| panic!("no alert acknowledged: {seen}"));
    let (status, alerts) = api_client.get(&pilot, "/api/v1/alerts?state=all").await;
    assert_eq!(status, 200, "{alerts}");
    let alert = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id)
        .unwrap_or_else(|| panic!("no alert {alert_id}: {alerts}"));
    assert_eq!(alert["drone_id"], drone, "{alert}");
    assert_eq!(alert["acknowledged_by"], "pilot", "{alert}");
    for name in [
        "p1-flight-selected.png",
        "p2-paused.png",
        "p3-resumed.png",
        "p4-alert.png",
        "p5-alert-acknowledged.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_the_browser_an_administrator_sets_a_quota_and_a_drones_service_imports_a_zone_file_and_draws_a_restriction_with_start_and_end(
) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    if let Some(why) = missing_tools(&web) {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {why}"
        );
        println!("SKIPPED: {why}");
        return;
    }
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let admin = running.admin_token.clone();
    // The demo's own server: the console with the live region.
    let shots = screenshot_dir().join("admin");
    let seen = run_script(
        &web,
        "admin.mjs",
        &shots,
        &[
            ("SKYSHARE_URL", format!("http://{}", running.http_addr)),
            ("SKYSHARE_TOKEN", admin.clone()),
        ],
    )
    .await;

    let api_client = Api::new(&running);
    let (_, departments) = api_client.get(&admin, "/api/v1/departments").await;
    let environment = departments["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "environment")
        .unwrap_or_else(|| panic!("{departments}"));
    assert_eq!(environment["max_open_tasks"], 3, "{departments}");
    // The zone file imported from the page is stored and in force; the bad
    // one was refused whole, naming its problem.
    let (_, zones) = api_client.get(&admin, "/api/v1/zones").await;
    let imported = zones["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["id"] == "Z-IMPORTED")
        .unwrap_or_else(|| panic!("Z-IMPORTED not stored: {zones}"));
    assert_eq!(imported["properties"]["source"], "imported", "{imported}");
    assert!(
        !zones.to_string().contains("Z-BAD"),
        "the refused file left a zone: {zones}"
    );
    assert!(
        seen["refused_file"].as_str().unwrap().contains("kind"),
        "{seen}"
    );
    // The drone put in maintenance, with its reason; every dock listed.
    let serviced = seen["serviced"].as_str().unwrap();
    let (_, drones) = api_client.get(&admin, "/api/v1/drones").await;
    let drone = drones["drones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == serviced)
        .unwrap_or_else(|| panic!("{drones}"));
    assert_eq!(drone["service"], "maintenance", "{drone}");
    assert_eq!(drone["service_reason"], "propeller check", "{drone}");
    assert_eq!(
        seen["docks"].as_array().unwrap().len(),
        skyshare::region::Region::demo().docks.len(),
        "{seen}"
    );
    // Stored with the drawn start and end (two hours apart, as the form
    // proposed), then lifted.
    let stored = &seen["stored"];
    let time = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(stored[key].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{key}: {e}: {seen}"))
    };
    assert_eq!((time("end") - time("start")).num_minutes(), 120, "{seen}");
    assert_eq!(stored["kind"], "prohibited", "{seen}");
    let (_, left) = api_client.get(&admin, "/api/v1/restrictions").await;
    assert_eq!(left["features"], serde_json::json!([]), "{left}");
    for name in [
        "a0-quota-and-service.png",
        "a1-restriction.png",
        "a2-lifted.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    running.stop().await;
}
