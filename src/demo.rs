//! `skyshare demo`: the whole system in one process. An embedded MQTT
//! broker (or an external one), an SQLite file (or PostgreSQL), a simulated
//! fleet parked at the region's docks, one firmware-bridge per drone, the
//! dispatcher and the HTTP API. End-to-end tests start exactly this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use geo::{Destination, Haversine};
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::auth::{random_token, token_hash, Role};
use crate::dispatcher::{Dispatcher, DispatcherConfig, DroneRecord};
use crate::planning::Airframe;
use crate::region::Region;
use crate::store::{Store, UserRow};

#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub listen: SocketAddr,
    pub drones: usize,
    pub speedup: f64,
    pub data_dir: PathBuf,
    /// None: start the embedded broker on a free port.
    pub mqtt_url: Option<String>,
    /// None: an SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub region: Region,
    pub submit_sample_tasks: bool,
}

pub const DEPARTMENTS: [(&str, &str); 3] = [
    ("urban-management", "Urban Management Bureau"),
    ("emergency-response", "Emergency Response Office"),
    ("environment", "Environmental Protection Bureau"),
];

pub struct RunningDemo {
    pub http_addr: SocketAddr,
    pub mqtt_url: String,
    /// (department id, API token of that department's user), one per department.
    pub tokens: Vec<(String, String)>,
    /// Token of the seeded pilot user (`pilot`).
    pub pilot_token: String,
    /// Token of the seeded administrator (`admin`).
    pub admin_token: String,
    pub drones: Vec<DroneRecord>,
    pub dispatcher: Arc<Dispatcher>,
    pub shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningDemo {
    pub fn token(&self, department: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(d, _)| d == department)
            .expect("seeded department")
            .1
    }

    /// Stops every part and waits for them (bridges publish `offline`).
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// The demo fleet: drones spread round-robin over the docks, every second
/// one also carrying a thermal camera.
pub fn demo_fleet(region: &Region, count: usize) -> Vec<(DroneRecord, simulator::VehicleSpec)> {
    (0..count)
        .map(|i| {
            let dock = &region.docks[i % region.docks.len()];
            let slot = i / region.docks.len();
            // Pads 4 m apart east of the dock point.
            let pad = Haversine.destination(dock.position, 90.0, 4.0 * slot as f64);
            let id = format!("{}-{}", dock.id.trim_start_matches("dock-"), slot + 1);
            let mut sensors = vec!["visible".to_string()];
            if i % 2 == 0 {
                sensors.push("thermal".into());
            }
            let record = DroneRecord {
                id: id.clone(),
                dock_id: dock.id.clone(),
                sensors,
            };
            let spec = simulator::VehicleSpec {
                name: id,
                system_id: (i + 1) as u8,
                home: simulator::GeoPoint {
                    lat_deg: pad.y(),
                    lon_deg: pad.x(),
                    alt_msl_m: dock.alt_msl_m,
                },
                port: 0,
            };
            (record, spec)
        })
        .collect()
}

pub async fn start(config: DemoConfig) -> anyhow::Result<RunningDemo> {
    anyhow::ensure!(
        (1..=250).contains(&config.drones),
        "--drones must be 1..250 (one MAVLink system id each)"
    );
    let shutdown = CancellationToken::new();
    let mqtt_url = match &config.mqtt_url {
        Some(url) => url.clone(),
        None => broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
            .context("starting the embedded MQTT broker")?
            .url(),
    };
    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
            format!(
                "sqlite://{}?mode=rwc",
                config.data_dir.join("skyshare.sqlite").display()
            )
        }
    };
    let store = Store::connect(&database_url)
        .await
        .with_context(|| format!("opening {database_url}"))?;
    let seeded = seed_users(&store).await?;

    let fleet = demo_fleet(&config.region, config.drones);
    let drones: Vec<DroneRecord> = fleet.iter().map(|(r, _)| r.clone()).collect();
    let sim = simulator::Simulator::bind(simulator::SimConfig {
        vehicles: fleet.iter().map(|(_, s)| s.clone()).collect(),
        speedup: config.speedup,
        bind_ip: "127.0.0.1".parse().expect("loopback"),
    })
    .await
    .context("starting the simulator")?;
    let vehicle_addrs = sim.addresses();
    let mut tasks = Vec::new();
    let sim_shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(error) = sim.run(sim_shutdown).await {
            tracing::error!(%error, "simulator stopped");
        }
    }));
    for (name, addr) in vehicle_addrs {
        let bridge = firmware_bridge::BridgeConfig::new(
            name.clone(),
            format!("udpout:{addr}"),
            mqtt_url.clone(),
        );
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = firmware_bridge::run(bridge, stop).await {
                tracing::error!(drone = name, %error, "bridge stopped");
            }
        }));
    }

    let dispatcher = Dispatcher::new(
        DispatcherConfig {
            mqtt_url: mqtt_url.clone(),
            region: config.region.clone(),
            airframe: Airframe::default(),
            drones: drones.clone(),
            telemetry_stale_after: Duration::from_secs(5),
            command_reply_limit: Duration::from_secs(60),
            mqtt_client_id: None,
        },
        store,
    )?;
    // Stored zones and restrictions are in force before the API answers.
    dispatcher.restore().await?;
    let stop = shutdown.clone();
    let runner = dispatcher.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(error) = runner.run(stop).await {
            tracing::error!(%error, "dispatcher stopped");
        }
    }));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let http_addr = listener.local_addr()?;
    // The API, and the console (static assets and the region map) beside it.
    let live_region = dispatcher.clone();
    let app =
        api::router(dispatcher.clone()).merge(crate::console::router_with_source(move || {
            live_region.region_now()
        }));
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        // A peer that reads nothing for the deadline is dropped (stalled
        // live streams included).
        let listener =
            api::DeadlineListener::new(listener, api::Limits::default().live_write_deadline);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "HTTP server stopped");
        }
    }));

    if config.submit_sample_tasks {
        submit_samples(&dispatcher, &config.region).await;
    }
    Ok(RunningDemo {
        http_addr,
        mqtt_url,
        tokens: seeded.departments,
        pilot_token: seeded.pilot,
        admin_token: seeded.admin,
        drones,
        dispatcher,
        shutdown,
        tasks,
    })
}

struct SeededTokens {
    departments: Vec<(String, String)>,
    pilot: String,
    admin: String,
}

/// The demo's departments, one user per department (`<department>-user`), a
/// pilot (`pilot`) and an administrator (`admin`), each with a fresh token.
async fn seed_users(store: &Store) -> anyhow::Result<SeededTokens> {
    let now = chrono::Utc::now().timestamp_millis();
    let issue = |id: String, name: String, role: Role, department: Option<&str>| {
        let department = department.map(str::to_owned);
        async move {
            store
                .upsert_user(&UserRow {
                    id: id.clone(),
                    name,
                    role: role.as_str().to_owned(),
                    department_id: department,
                    created_at_ms: now,
                })
                .await?;
            let token = random_token();
            store.add_user_token(&token_hash(&token), &id, now).await?;
            anyhow::Ok(token)
        }
    };
    let mut departments = Vec::new();
    for (id, name) in DEPARTMENTS {
        store.upsert_department(id, name).await?;
        let token = issue(
            format!("{id}-user"),
            format!("{name} user"),
            Role::Department,
            Some(id),
        )
        .await?;
        departments.push((id.to_string(), token));
    }
    let pilot = issue("pilot".into(), "Duty pilot".into(), Role::Pilot, None).await?;
    let admin = issue("admin".into(), "Administrator".into(), Role::Admin, None).await?;
    Ok(SeededTokens {
        departments,
        pilot,
        admin,
    })
}

/// A few requests near the docks, from two departments, so the console has
/// something flying from the first minute.
async fn submit_samples(dispatcher: &Dispatcher, region: &Region) {
    let samples = [
        ("urban-management", 0, 45.0, 400.0, "visible"),
        ("environment", 1, 60.0, 200.0, "visible"),
        ("emergency-response", 0, 50.0, 150.0, "thermal"),
    ];
    for (department, dock_index, bearing, distance, sensor) in samples {
        let dock = &region.docks[dock_index % region.docks.len()];
        let target = Haversine.destination(dock.position, bearing, distance);
        let request = crate::task::TaskRequest {
            kind: "point_inspection".into(),
            geometry: crate::task::Geometry::point(target),
            alt_m: 50.0,
            sensor: sensor.into(),
            priority: Default::default(),
            radius_m: 30.0,
            photos: 4,
            width_m: None,
            overlap: None,
            window: None,
            recurrence: None,
        };
        match dispatcher.submit(department, request).await {
            Ok(task) => tracing::info!(task = task.id, department, "sample task submitted"),
            Err(error) => tracing::warn!(%error, department, "sample task refused"),
        }
    }
}
