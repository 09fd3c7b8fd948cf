//! A dispatcher on its own, for tests that bring their own drones: an
//! embedded broker, an SQLite store with one department (`water`), and a
//! dispatcher for one drone on the demo region's first dock.

use std::sync::Arc;
use std::time::Duration;

use geo::Point;
use skyshare::dispatcher::{Dispatcher, DispatcherConfig, DroneRecord};
use skyshare::planning::Airframe;
use skyshare::region::Region;
use skyshare::store::Store;
use skyshare::task::{Geometry, TaskRequest};

pub struct Standalone {
    pub broker: broker::EmbeddedBroker,
    pub store: Store,
    pub region: Region,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Standalone {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.sqlite").display()
    );
    let store = Store::connect(&url).await.unwrap();
    store
        .upsert_department("water", "Water Authority")
        .await
        .unwrap();
    Standalone {
        broker,
        store,
        region: Region::demo(),
        _dir: dir,
    }
}

impl Standalone {
    /// A dispatcher for `drone` (a visible camera) on the first dock.
    pub fn dispatcher(
        &self,
        drone: &str,
        command_reply_limit: Duration,
        mqtt_client_id: Option<&str>,
    ) -> Arc<Dispatcher> {
        Dispatcher::new(
            DispatcherConfig {
                mqtt_url: self.broker.url(),
                region: self.region.clone(),
                airframe: Airframe::default(),
                drones: vec![DroneRecord {
                    id: drone.into(),
                    dock_id: self.region.docks[0].id.clone(),
                    sensors: vec!["visible".into()],
                }],
                telemetry_stale_after: Duration::from_secs(5),
                command_reply_limit,
                mqtt_client_id: mqtt_client_id.map(str::to_owned),
            },
            self.store.clone(),
        )
        .unwrap()
    }
}

/// A point inspection at 40 m: `photos` from an orbit of `radius_m` (0
/// hovers).
pub fn inspection(target: Point, radius_m: f64, photos: u32) -> TaskRequest {
    TaskRequest {
        kind: "point_inspection".into(),
        geometry: Geometry::point(target),
        alt_m: 40.0,
        sensor: "visible".into(),
        priority: Default::default(),
        radius_m,
        photos,
        width_m: None,
        overlap: None,
        window: None,
        recurrence: None,
    }
}
