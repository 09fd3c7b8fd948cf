//! The live streams over real sockets: WebSocket and Server-Sent Events
//! carry drone positions and task changes, each filtered by the caller's
//! rights; no token, no stream. Against SQLite and (when it answers)
//! PostgreSQL.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_fleet, Api};
use futures_util::StreamExt;
use geo::{Destination, Haversine};
use serde_json::Value;
use skyshare::demo;
use skyshare::region::Region;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn scenario(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, database_url))
        .await
        .unwrap();
    let api = Api::new(&demo);
    let urban = demo.token("urban-management").to_owned();
    let env = demo.token("environment").to_owned();
    wait_for_fleet(&api, &urban).await;

    let url = format!("ws://{}/api/v1/live/ws", demo.http_addr);
    let refused = tokio_tungstenite::connect_async(url.clone()).await;
    assert!(refused.is_err(), "a stream without a token was opened");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {urban}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    let sse = reqwest::Client::new()
        .get(format!("http://{}/api/v1/live/sse", demo.http_addr))
        .bearer_auth(&demo.pilot_token)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert_eq!(sse.headers()["content-type"], "text/event-stream");

    // Environment's task: the pilot's stream shows it, urban's never does.
    let dock = Region::demo().docks[0].position;
    let t = Haversine.destination(dock, 45.0, 150.0);
    let (status, task) = api
        .post(&env, "/api/v1/tasks", &point_task(t.x(), t.y(), "visible"))
        .await;
    assert_eq!(status, 201, "{task}");
    let env_task = task["id"].as_str().unwrap().to_owned();

    let mut sse = sse;
    let mut pilot_text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(pilot_text.contains(&env_task) && pilot_text.contains("event: drone")) {
        let chunk = tokio::time::timeout_at(deadline, sse.chunk())
            .await
            .expect("pilot's SSE stream never showed the task")
            .unwrap()
            .unwrap();
        pilot_text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(pilot_text.contains("event: task"), "{pilot_text}");

    // Urban's WebSocket: positions for the drone, and none of
    // environment's task ids, for two seconds while it flies.
    let mut positions = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(message)) = tokio::time::timeout_at(until, ws.next()).await {
        let Message::Text(text) = message.unwrap() else {
            continue;
        };
        assert!(
            !text.contains(&env_task),
            "urban saw environment's task: {text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "drone" && v["lat_deg"].is_number() {
            positions += 1;
        }
    }
    assert!(positions >= 2, "only {positions} positions in 2 s at 2 Hz");
    // Graceful shutdown waits for open streams: close ours first.
    drop(ws);
    drop(sse);
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_streams_carry_positions_and_only_the_callers_tasks_with_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_streams_carry_positions_and_only_the_callers_tasks_with_postgresql() {
    let Some(pg) = common::pg::schema("live").await else {
        return;
    };
    scenario(Some(pg.url.clone())).await;
    pg.drop().await;
}
