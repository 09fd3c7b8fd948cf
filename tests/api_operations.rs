//! Operations over HTTP: per-token rate limits answer 429 in the error
//! shape without touching other tokens, bodies over the limit are refused,
//! CORS preflights are answered, and /metrics speaks the Prometheus format;
//! against SQLite and (when it answers) PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use skyshare::api::{router_with, Limits};
use skyshare::auth::{random_token, token_hash};
use skyshare::dispatcher::{Dispatcher, DispatcherConfig};
use skyshare::planning::Airframe;
use skyshare::region::Region;
use skyshare::store::{Store, UserRow};

async fn serve(
    limits: Limits,
    database_url: Option<String>,
) -> (String, Vec<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ops.sqlite").display()
        )
    });
    let store = Store::connect(&url).await.unwrap();
    store.upsert_department("parks", "Parks").await.unwrap();
    let mut tokens = Vec::new();
    for id in ["parks-a", "parks-b", "parks-c"] {
        store
            .upsert_user(&UserRow {
                id: id.into(),
                name: id.into(),
                role: "department".into(),
                department_id: Some("parks".into()),
                created_at_ms: 0,
            })
            .await
            .unwrap();
        let token = random_token();
        store
            .add_user_token(&token_hash(&token), id, 0)
            .await
            .unwrap();
        tokens.push(token);
    }
    // The dispatcher is not run: these routes need only its store and fleet.
    let dispatcher: Arc<Dispatcher> = Dispatcher::new(
        DispatcherConfig {
            mqtt_url: "mqtt://127.0.0.1:9".into(),
            region: Region::demo(),
            airframe: Airframe::default(),
            drones: Vec::new(),
            telemetry_stale_after: Duration::from_secs(5),
            command_reply_limit: Duration::from_secs(5),
            mqtt_client_id: None,
        },
        store,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with(dispatcher, limits);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, tokens, dir)
}

async fn scenario(database_url: Option<String>) {
    let limits = Limits {
        burst: 3.0,
        per_second: 0.5,
        body_bytes: 1024,
        timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let (base, tokens, _dir) = serve(limits, database_url).await;
    let http = reqwest::Client::new();
    let get = |token: &str| {
        http.get(format!("{base}/api/v1/tasks"))
            .bearer_auth(token)
            .send()
    };

    for _ in 0..3 {
        assert_eq!(get(&tokens[0]).await.unwrap().status(), 200);
    }
    let limited = get(&tokens[0]).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // Another token of the same department still has its own allowance.
    assert_eq!(get(&tokens[1]).await.unwrap().status(), 200);

    let big = http
        .post(format!("{base}/api/v1/tasks"))
        .bearer_auth(&tokens[1])
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // Every error in the API's one JSON shape: the body limit's, an
    // unknown path's, a method an endpoint does not take.
    let body: serde_json::Value = big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large", "{body}");
    let unknown = http
        .get(format!("{base}/api/v1/no-such-thing"))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let put = http
        .put(format!("{base}/api/v1/zones"))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert!(put.headers().contains_key("allow"), "{:?}", put.headers());
    let body: serde_json::Value = put.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/tasks"))
        .header("origin", "https://console.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("# TYPE skyshare_tasks gauge"), "{text}");
    assert!(text.contains("skyshare_drones 0"), "{text}");
    let client_errors: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("skyshare_http_responses_total{class=\"4xx\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(client_errors >= 2, "429 and 413 counted: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_body_limit_cors_and_metrics_with_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_body_limit_cors_and_metrics_with_postgresql() {
    let Some(pg) = common::pg::schema("operations").await else {
        return;
    };
    scenario(Some(pg.url.clone())).await;
    pg.drop().await;
}
