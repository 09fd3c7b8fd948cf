//! /metrics scraped over HTTP while a drone reports and is commanded,
//! against SQLite and (when it answers) PostgreSQL: the telemetry rate and
//! counts (in total and for the drone), the latency of the dispatcher's and
//! a pilot's commands to the bridge's answer, and the queue wait of a task
//! until it was assigned.

mod common;

use std::time::Duration;

use common::served::{self, Served};
use common::talking_bridge::TalkingBridge;
use geo::{Destination, Haversine};
use serde_json::json;
use skyshare::region::Region;

/// The value of the sample line `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(served: &Served) -> String {
    let reply = reqwest::get(format!("{}/metrics", served.base))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.text().await.unwrap()
}

async fn scenario(served: Served) {
    let dock = Region::demo().docks[0].position;
    let mut bridge = TalkingBridge::start(served.broker.addr().port(), "m-1", dock).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, fleet) = served
            .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
            .await;
        if fleet["drones"][0]["telemetry"].is_object() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{fleet}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let target = Haversine.destination(dock, 0.0, 150.0);
    served.submit_point_inspection(target, 20.0, 2).await;
    bridge.expect_mission_started().await;
    let (status, sent) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/drones/m-1/commands",
            Some(json!({"command": "pause"})),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(
        bridge
            .next_command(Duration::from_secs(10))
            .await
            .as_deref(),
        Some("pause")
    );
    // Two seconds more of telemetry at 10 Hz.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let text = scrape(&served).await;
    let total = sample(&text, "skyshare_telemetry_messages_total").unwrap();
    let drone = sample(
        &text,
        "skyshare_drone_telemetry_messages_total{drone=\"m-1\"}",
    )
    .unwrap();
    assert!(total >= 20.0 && drone == total, "{text}");
    let rate = sample(&text, "skyshare_telemetry_rate_per_second").unwrap();
    assert!(
        rate > 3.0 && rate < 15.0,
        "the bridge sends 10 a second: {rate}\n{text}"
    );
    assert!(
        text.contains("# TYPE skyshare_command_latency_seconds histogram"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "skyshare_command_latency_seconds_count{origin=\"pilot\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "skyshare_command_latency_seconds_count{origin=\"dispatcher\"}"
        ),
        Some(2.0),
        "{text}"
    );
    let pilot_s = sample(
        &text,
        "skyshare_command_latency_seconds_sum{origin=\"pilot\"}",
    )
    .unwrap();
    assert!(pilot_s > 0.0 && pilot_s < 10.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "skyshare_command_latency_seconds_bucket{origin=\"pilot\",le=\"+Inf\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "skyshare_commands_unanswered_total{origin=\"pilot\"}"
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "skyshare_queue_wait_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "skyshare_queue_wait_seconds_bucket{le=\"+Inf\"}"),
        Some(1.0),
        "{text}"
    );
    // The counter only grows.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = scrape(&served).await;
    assert!(sample(&later, "skyshare_telemetry_messages_total").unwrap() > total);
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_telemetry_rate_command_latency_and_queue_wait_with_sqlite() {
    scenario(served::start(None, &["m-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_telemetry_rate_command_latency_and_queue_wait_with_postgresql() {
    let Some(pg) = common::pg::schema("metrics").await else {
        return;
    };
    scenario(served::start(Some(pg.url.clone()), &["m-1"]).await).await;
    pg.drop().await;
}
