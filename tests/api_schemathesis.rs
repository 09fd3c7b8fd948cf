//! schemathesis (PyPI) against the served OpenAPI document, once per role:
//! no server error, and every answer fits the document (the checks it runs
//! by default). Outside CI the test skips when schemathesis is missing.

mod common;

use std::process::Command;

use common::config;
use skyshare::demo;

fn schemathesis_available() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_no_server_error_or_schema_violation_for_any_role() {
    if !schemathesis_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is missing in CI: pip install -r scripts/requirements-test.txt"
        );
        println!(
            "SKIPPED: schemathesis not installed (pip install -r scripts/requirements-test.txt)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let url = format!("http://{}/api/v1/openapi.json", demo.http_addr);
    // A schema-valid task can still be refused by meaning (outside the
    // region, in a prohibited zone, a Point for an area survey): the
    // document gives 422 for that. STAC searches answer a well-formed but
    // meaningless search (a bbox with south above north, a geometry object
    // without a type) with 400, as the STAC API specification asks.
    let settings = dir.path().join("schemathesis.toml");
    std::fs::write(
        &settings,
        r#"[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-path-regex = "^/api/v1/stac/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "429"]
"#,
    )
    .unwrap();
    let settings = settings.display().to_string();
    let roles = [
        ("department", demo.token("urban-management").to_owned()),
        ("pilot", demo.pilot_token.clone()),
        ("admin", demo.admin_token.clone()),
    ];
    // The three runs go side by side; each is its own process.
    let runs: Vec<_> = roles
        .into_iter()
        .map(|(role, token)| {
            let url = url.clone();
            let settings = settings.clone();
            (
                role,
                tokio::task::spawn_blocking(move || {
                    Command::new("schemathesis")
                        .args([
                            "--config-file",
                            &settings,
                            "run",
                            &url,
                            "--max-examples",
                            "8",
                            "--seed",
                            "7",
                            "--no-color",
                        ])
                        .args(["-H", &format!("Authorization: Bearer {token}")])
                        .env("SCHEMATHESIS_TELEMETRY", "false")
                        .output()
                        .unwrap()
                }),
            )
        })
        .collect();
    for (role, run) in runs {
        let output = run.await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis as {role}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    demo.stop().await;
}

/// The document is served and names every route; the page that reads it
/// loads nothing from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_docs_page_without_a_cdn_and_readyz_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let base = format!("http://{}", demo.http_addr);
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in [
        "/api/v1/tasks",
        "/api/v1/tasks/{id}/cancel",
        "/api/v1/drones/{id}/commands",
        "/api/v1/users/{id}/tokens",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    let page = reqwest::get(format!("{base}/api/v1/docs")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/openapi.json"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "external resource in the docs page"
    );
    demo.stop().await;
}
