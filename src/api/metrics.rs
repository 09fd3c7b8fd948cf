//! /metrics in the Prometheus text format: tasks by state and the oldest
//! queue wait from the store, drones online and flying from the dispatcher,
//! the dispatcher's instruments (telemetry rate, command latency, queue
//! wait until assignment), and the API's own request counts by status
//! class.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::dispatcher::Dispatcher;

/// Answers by status class: 1xx..5xx.
#[derive(Default)]
pub struct HttpCounters {
    by_class: [AtomicU64; 5],
}

pub async fn count(
    State(counters): State<Arc<HttpCounters>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    counters.by_class[class].fetch_add(1, Ordering::Relaxed);
    response
}

pub async fn metrics(
    State(dispatcher): State<Arc<Dispatcher>>,
    State(counters): State<Arc<HttpCounters>>,
) -> Result<Response, ApiError> {
    let store = dispatcher.store();
    let counts = store.task_counts().await.map_err(ApiError::internal)?;
    let queued = store
        .tasks_in_state("queued")
        .await
        .map_err(ApiError::internal)?;
    let now = chrono::Utc::now().timestamp_millis();
    let oldest_wait_s = queued
        .iter()
        .map(|t| (now - t.created_at_ms).max(0) as f64 / 1000.0)
        .fold(0.0, f64::max);
    let fleet = dispatcher.fleet_view();
    let online = fleet.iter().filter(|d| d.online).count();
    let flying = fleet.iter().filter(|d| !d.task_ids.is_empty()).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP skyshare_tasks Tasks by state.\n# TYPE skyshare_tasks gauge"
    );
    for (state, n) in &counts {
        let _ = writeln!(out, "skyshare_tasks{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP skyshare_queue_oldest_wait_seconds How long the oldest queued task has waited.\n# TYPE skyshare_queue_oldest_wait_seconds gauge\nskyshare_queue_oldest_wait_seconds {oldest_wait_s:.3}");
    let _ = writeln!(out, "# HELP skyshare_drones Drones known to the dispatcher.\n# TYPE skyshare_drones gauge\nskyshare_drones {}", fleet.len());
    let _ = writeln!(out, "# HELP skyshare_drones_online Drones whose bridge is online.\n# TYPE skyshare_drones_online gauge\nskyshare_drones_online {online}");
    let _ = writeln!(out, "# HELP skyshare_flights Drones flying a sortie now.\n# TYPE skyshare_flights gauge\nskyshare_flights {flying}");
    let _ = writeln!(out, "# HELP skyshare_http_responses_total API answers by status class.\n# TYPE skyshare_http_responses_total counter");
    for (i, c) in counters.by_class.iter().enumerate() {
        let _ = writeln!(
            out,
            "skyshare_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            c.load(Ordering::Relaxed)
        );
    }
    dispatcher
        .instruments()
        .render(&mut out, std::time::Instant::now());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response())
}
