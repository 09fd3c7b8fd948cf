//! Helpers shared by the end-to-end tests: an HTTP client for the API, a
//! demo configuration on ports the OS picks, and waiting for a task state.
#![allow(dead_code)] // each test binary uses its own subset

pub mod mute_bridge;
pub mod pg;
pub mod served;
pub mod standalone;
pub mod talking_bridge;

use std::time::Duration;

use serde_json::{json, Value};
use skyshare::demo::{DemoConfig, RunningDemo};
use skyshare::region::Region;

pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(demo: &RunningDemo) -> Api {
        Api {
            base: format!("http://{}", demo.http_addr),
            http: reqwest::Client::new(),
        }
    }
    pub async fn post(&self, token: &str, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
    pub async fn delete(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

pub fn config(
    dir: &std::path::Path,
    drones: usize,
    mqtt_url: Option<String>,
    database_url: Option<String>,
) -> DemoConfig {
    DemoConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        drones,
        speedup: 40.0,
        data_dir: dir.to_path_buf(),
        mqtt_url,
        database_url,
        region: Region::demo(),
        submit_sample_tasks: false,
    }
}

pub fn point_task(lon: f64, lat: f64, sensor: &str) -> String {
    json!({"kind": "point_inspection", "geometry": {"type": "Point", "coordinates": [lon, lat]},
           "alt_m": 40, "sensor": sensor, "radius_m": 20, "photos": 3})
    .to_string()
}

pub async fn wait_for_state(
    api: &Api,
    token: &str,
    id: &str,
    want: &str,
    limit: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let (status, task) = api.get(token, &format!("/api/v1/tasks/{id}")).await;
        assert_eq!(status, 200, "{task}");
        if task["state"] == want {
            return task;
        }
        assert_ne!(task["state"], "failed", "task failed: {task}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "task never reached {want}: {task}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until every drone of the demo is online with telemetry.
pub async fn wait_for_fleet(api: &Api, token: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, fleet) = api.get(token, "/api/v1/fleet").await;
        let drones = fleet["drones"].as_array().unwrap();
        if drones
            .iter()
            .all(|d| d["online"] == true && d["telemetry"]["battery_pct"].is_number())
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fleet never came online: {fleet}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
