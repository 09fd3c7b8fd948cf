//! The API served over HTTP by a running dispatcher on an embedded broker,
//! for tests that bring their own bridges: a store (SQLite, or the URL
//! given), departments `parks` and `water`, and one user of each kind with
//! a token: two pilots, an administrator and a department user.

use std::sync::Arc;
use std::time::Duration;

use skyshare::auth::{random_token, token_hash};
use skyshare::dispatcher::{Dispatcher, DispatcherConfig, DroneRecord};
use skyshare::planning::Airframe;
use skyshare::region::Region;
use skyshare::store::{Store, UserRow};
use tokio_util::sync::CancellationToken;

pub struct Served {
    pub base: String,
    pub dispatcher: Arc<Dispatcher>,
    pub broker: broker::EmbeddedBroker,
    pub store: Store,
    pub pilot: String,
    pub other_pilot: String,
    pub admin: String,
    pub department: String,
    drones: Vec<String>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn dispatcher_for(
    broker: &broker::EmbeddedBroker,
    store: Store,
    drones: &[String],
) -> Arc<Dispatcher> {
    let region = Region::demo();
    Dispatcher::new(
        DispatcherConfig {
            mqtt_url: broker.url(),
            drones: drones
                .iter()
                .map(|id| DroneRecord {
                    id: id.clone(),
                    dock_id: region.docks[0].id.clone(),
                    sensors: vec!["visible".into()],
                })
                .collect(),
            region,
            airframe: Airframe::default(),
            telemetry_stale_after: Duration::from_secs(5),
            command_reply_limit: Duration::from_secs(10),
            mqtt_client_id: None,
        },
        store,
    )
    .unwrap()
}

async fn serve(dispatcher: Arc<Dispatcher>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = skyshare::api::router(dispatcher);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

pub async fn start(database_url: Option<String>, drones: &[&str]) -> Served {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("api.sqlite").display()
        )
    });
    let store = Store::connect(&url).await.unwrap();
    for (id, name) in [("parks", "Parks"), ("water", "Water Authority")] {
        store.upsert_department(id, name).await.unwrap();
    }
    let mut tokens = Vec::new();
    for (id, role, department) in [
        ("pilot-a", "pilot", None),
        ("pilot-b", "pilot", None),
        ("admin-a", "admin", None),
        ("parks-a", "department", Some("parks")),
    ] {
        store
            .upsert_user(&UserRow {
                id: id.into(),
                name: id.into(),
                role: role.into(),
                department_id: department.map(str::to_owned),
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
    let drones: Vec<String> = drones.iter().map(|d| d.to_string()).collect();
    let dispatcher = dispatcher_for(&broker, store.clone(), &drones);
    dispatcher.restore().await.unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(shutdown.clone()));
    let base = serve(dispatcher.clone()).await;
    Served {
        base,
        dispatcher,
        broker,
        store,
        pilot: tokens[0].clone(),
        other_pilot: tokens[1].clone(),
        admin: tokens[2].clone(),
        department: tokens[3].clone(),
        drones,
        shutdown,
        _dir: dir,
    }
}

impl Served {
    /// Stops the dispatcher and starts a new one on the same store and
    /// broker, served at a new address: what a restart keeps.
    pub async fn restart(&mut self) {
        self.shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.dispatcher = dispatcher_for(&self.broker, self.store.clone(), &self.drones);
        self.dispatcher.restore().await.unwrap();
        self.shutdown = CancellationToken::new();
        tokio::spawn(self.dispatcher.clone().run(self.shutdown.clone()));
        self.base = serve(self.dispatcher.clone()).await;
    }

    pub async fn call(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        (
            status,
            reply.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Submits a visible-light point inspection at 40 m as the department
    /// user and returns the task, which must be accepted.
    pub async fn submit_point_inspection(
        &self,
        target: geo::Point,
        radius_m: f64,
        photos: u32,
    ) -> serde_json::Value {
        let request = serde_json::json!({"kind": "point_inspection",
            "geometry": {"type": "Point", "coordinates": [target.x(), target.y()]},
            "alt_m": 40, "sensor": "visible", "radius_m": radius_m, "photos": photos});
        let (status, task) = self
            .call(
                "POST",
                Some(&self.department),
                "/api/v1/tasks",
                Some(request),
            )
            .await;
        assert_eq!(status, 201, "{task}");
        task
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}
