//! The web console in a real browser: the demo (embedded broker, SQLite,
//! simulated fleet at 40x) plus the console router, driven by
//! `web/tests/department.mjs` through playwright-core in Debian's headless
//! Chromium. A department enters its token, draws and submits an area
//! survey, watches it assigned and flown, and sees its photos on the map;
//! a point in a prohibited zone is refused with the zone named; a corridor
//! is submitted with its width; the pilot view shows a drone's telemetry.
//! Screenshots are kept under target/console-screenshots/.
//!
//! Outside CI the test prints SKIPPED when node, Chromium or web/node_modules
//! (scripts/test runs `npm ci`) are missing; in CI (env CI set) it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{config, wait_for_fleet, Api};
use serde_json::Value;
use skyshare::region::Region;
use skyshare::{api, console, demo};

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

    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 2, None, None))
        .await
        .unwrap();
    let token = running.token("environment").to_owned();
    // The app as the demo will serve it once the console is wired in: the
    // API with the console's routes merged.
    let app = api::router(running.dispatcher.clone()).merge(console::router(Region::demo()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    wait_for_fleet(&Api::new(&running), &token).await;

    let shots = screenshot_dir().join("department");
    let script = web.join("tests/department.mjs");
    let mut command = Command::new("node");
    command
        .arg(&script)
        .env("SKYSHARE_URL", format!("http://{addr}"))
        .env("SKYSHARE_TOKEN", &token)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", chromium().unwrap());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "department.mjs failed ({}); screenshots in {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        shots.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("department.mjs printed no result ({e}): {stdout}"));

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
    for name in [
        "02-region.png",
        "06-imagery.png",
        "07-completed.png",
        "08-refused-in-zone.png",
        "09-corridor.png",
        "10-pilot.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    server.abort();
    running.stop().await;
}
