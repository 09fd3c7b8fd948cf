//! Recurring tasks: a request with `"recurrence": {"every": "daily" |
//! "weekly", "until": ...}` is stored as a series; each occurrence becomes a
//! task of its own with its own window, created two days ahead; the series
//! survives a restart (a new dispatcher creates what has come due, never
//! twice, skipping windows that closed while nothing ran) and is cancelled
//! as a whole.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{config, standalone, wait_for_fleet, Api};
use geo::{Destination, Haversine};
use serde_json::json;
use skyshare::demo;
use skyshare::region::Region;
use skyshare::store::SeriesRow;
use skyshare::task::TimeWindow;
use tokio_util::sync::CancellationToken;

fn window_start(task: &serde_json::Value) -> DateTime<Utc> {
    task["request"]["window"]["start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_daily_request_becomes_one_task_per_day_ahead_of_time_and_is_cancelled_as_a_series() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let water = running.token("environment").to_owned();
    wait_for_fleet(&api, &urban).await;
    let dock = Region::demo().docks[0].position;
    let target = Haversine.destination(dock, 10.0, 300.0);
    let now = Utc::now();
    let request = |window: serde_json::Value, recurrence: serde_json::Value| {
        json!({"kind": "point_inspection", "geometry": {"type": "Point", "coordinates": [target.x(), target.y()]},
               "alt_m": 40, "sensor": "visible", "photos": 2, "window": window, "recurrence": recurrence})
        .to_string()
    };
    let first =
        json!({"start": now + chrono::Duration::hours(5), "end": now + chrono::Duration::hours(7)});
    let daily = json!({"every": "daily", "until": now + chrono::Duration::days(5) + chrono::Duration::hours(6)});

    // Refused with the field: no window, or one longer than a day.
    let (status, body) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &request(serde_json::Value::Null, daily.clone()),
        )
        .await;
    assert_eq!(
        (status, body["error"]["where"].as_str()),
        (422, Some("window")),
        "{body}"
    );
    let long = json!({"start": now + chrono::Duration::hours(1), "end": now + chrono::Duration::hours(30)});
    let (status, body) = api
        .post(&urban, "/api/v1/tasks", &request(long, daily.clone()))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api
        .post(
            &urban,
            "/api/v1/tasks",
            &request(first.clone(), json!({"every": "hourly", "until": now})),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Six days' worth; the two opening within 48 h are tasks already.
    let (status, body) = api
        .post(&urban, "/api/v1/tasks", &request(first, daily))
        .await;
    assert_eq!(status, 201, "{body}");
    let series_id = body["series"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["series"]["state"], "active");
    assert_eq!(body["series"]["next_occurrence"], 2);
    let tasks = body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{body}");
    assert_eq!(
        window_start(&tasks[1]) - window_start(&tasks[0]),
        chrono::Duration::days(1),
        "each occurrence in its own window, a day apart"
    );
    for task in tasks {
        assert!(task["request"].get("recurrence").is_none(), "{task}");
    }
    let ids: Vec<String> = tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    let (_, listed) = api.get(&urban, "/api/v1/tasks").await;
    for id in &ids {
        assert!(
            listed["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| &t["id"] == id),
            "{listed}"
        );
        let (_, task) = api.get(&urban, &format!("/api/v1/tasks/{id}")).await;
        assert_eq!(task["state"], "queued", "{task}");
    }
    let (status, read) = api
        .get(&urban, &format!("/api/v1/series/{series_id}"))
        .await;
    assert_eq!(
        (status, read["tasks"].as_array().unwrap().len()),
        (200, 2),
        "{read}"
    );
    let (status, _) = api
        .get(&water, &format!("/api/v1/series/{series_id}"))
        .await;
    assert_eq!(status, 404, "another department's series is not there");
    let (_, mine) = api.get(&urban, "/api/v1/series").await;
    assert_eq!(mine["series"].as_array().unwrap().len(), 1);

    // Cancelled as a series: its queued tasks with it, and no more.
    let cancel = format!("/api/v1/series/{series_id}/cancel");
    assert_eq!(api.post(&water, &cancel, "").await.0, 404);
    let (status, body) = api.post(&urban, &cancel, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["series"]["state"], "cancelled");
    assert_eq!(body["cancelled_tasks"].as_array().unwrap().len(), 2);
    for id in &ids {
        let (_, task) = api.get(&urban, &format!("/api/v1/tasks/{id}")).await;
        assert_eq!(task["state"], "cancelled", "{task}");
    }
    assert_eq!(api.post(&urban, &cancel, "").await.0, 409);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_series_is_resumed_by_a_new_dispatcher_skipping_closed_windows_and_never_twice() {
    let parts = standalone::start().await;
    let store = &parts.store;
    let dock = parts.region.docks[0].position;
    let now = Utc::now();
    // A series stored three days ago by an earlier run that then stopped:
    // its first three windows closed while nothing ran.
    let mut request = standalone::inspection(Haversine.destination(dock, 200.0, 250.0), 0.0, 1);
    request.window = Some(TimeWindow {
        start: Some(now - chrono::Duration::days(3) + chrono::Duration::hours(1)),
        end: Some(now - chrono::Duration::days(3) + chrono::Duration::hours(3)),
    });
    request.recurrence = Some(skyshare::recurrence::Recurrence {
        every: skyshare::recurrence::Every::Daily,
        until: now + chrono::Duration::days(10),
    });
    let at = now.timestamp_millis() - 3 * 86_400_000;
    store
        .insert_series(&SeriesRow {
            id: "weekly-check".into(),
            department_id: "water".into(),
            request: serde_json::to_value(&request).unwrap(),
            state: "active".into(),
            next_occurrence: 0,
            created_at_ms: at,
            updated_at_ms: at,
            reason: None,
        })
        .await
        .unwrap();

    for _ in 0..2 {
        let dispatcher = parts.dispatcher("series-1", Duration::from_secs(5), None);
        let stop = CancellationToken::new();
        let run = tokio::spawn(dispatcher.clone().run(stop.clone()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.series_tasks("weekly-check").await.unwrap().len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "occurrences never created"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
        run.await.unwrap().unwrap();
    }
    let tasks = store.series_tasks("weekly-check").await.unwrap();
    let occurrences: Vec<i64> = tasks.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        occurrences,
        vec![3, 4],
        "closed windows skipped, the next two created once"
    );
    let first_start = request.window.unwrap().start.unwrap();
    for (k, task) in &tasks {
        let start: DateTime<Utc> = task.request["window"]["start"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(start - first_start, chrono::Duration::days(*k), "{task:?}");
        assert_eq!(task.department_id, "water");
    }
    let series = store.series("weekly-check").await.unwrap().unwrap();
    assert_eq!(
        (series.next_occurrence, series.state.as_str()),
        (5, "active")
    );
}
