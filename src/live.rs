//! The live picture for streams: fleet positions and task progress,
//! sampled from the dispatcher and fanned out over one broadcast channel.
//! A subscriber that falls behind loses the oldest messages and is told how
//! many (tokio's broadcast lag), so a slow client never holds up the
//! sampler or the other clients.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::alerts::Alert;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, DroneView};
use crate::store::TaskRow;

/// Messages a subscriber may lag behind before it starts losing the oldest.
pub const BUFFER: usize = 4096;
/// How often positions are sampled (2 Hz, the telemetry rate targeted).
pub const PERIOD: Duration = Duration::from_millis(500);

/// One message, with what decides who may see it.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// A drone's position and state. `owners` maps each task id on board to
    /// its department, so each subscriber sees only its own task ids.
    Drone {
        view: Arc<DroneView>,
        owners: Arc<HashMap<String, String>>,
    },
    /// A task changed state or progress; only its department (and pilots
    /// and administrators) see it.
    Task(Arc<TaskRow>),
    /// An alert was raised, cleared or acknowledged; pilots and
    /// administrators see it.
    Alert(Arc<Alert>),
}

impl LiveEvent {
    /// The JSON this caller may see, or None when it may not see it at all.
    pub fn for_caller(&self, caller: &Caller) -> Option<Value> {
        match self {
            LiveEvent::Drone { view, owners } => {
                let mine = |id: &String| owners.get(id).is_some_and(|d| caller.may_see(d));
                let task_ids: Vec<&String> = view.task_ids.iter().filter(|id| mine(id)).collect();
                let task_id = view.task_id.as_ref().filter(|id| mine(id));
                let t = view.telemetry.as_ref();
                Some(json!({
                    "type": "drone",
                    "id": view.id,
                    "online": view.online,
                    "lat_deg": t.map(|t| t.lat_deg),
                    "lon_deg": t.map(|t| t.lon_deg),
                    "alt_rel_m": t.map(|t| t.alt_rel_m),
                    "heading_deg": t.and_then(|t| t.heading_deg),
                    "battery_pct": t.and_then(|t| t.battery_pct),
                    "ts_ms": t.map(|t| t.ts_ms),
                    // The rest of the sample, so a console needs no poll.
                    "alt_msl_m": t.map(|t| t.alt_msl_m),
                    "vel_north_mps": t.map(|t| t.vel_north_mps),
                    "vel_east_mps": t.map(|t| t.vel_east_mps),
                    "vel_down_mps": t.map(|t| t.vel_down_mps),
                    "battery_v": t.and_then(|t| t.battery_v),
                    "mode": t.map(|t| t.mode),
                    "armed": t.map(|t| t.armed),
                    "landed": t.map(|t| t.landed),
                    "mission_seq": t.and_then(|t| t.mission_seq),
                    "mission_total": t.and_then(|t| t.mission_total),
                    "task_id": task_id,
                    "task_ids": task_ids,
                    "taken_over_by": view.taken_over.as_ref().map(|t| &t.pilot),
                }))
            }
            LiveEvent::Task(task) => caller.may_see(&task.department_id).then(|| {
                json!({
                    "type": "task",
                    "id": task.id,
                    "department_id": task.department_id,
                    "state": task.state,
                    "reason": task.reason,
                    "drone_id": task.drone_id,
                    "progress_seq": task.progress_seq,
                    "progress_total": task.progress_total,
                    "updated_at_ms": task.updated_at_ms,
                })
            }),
            LiveEvent::Alert(alert) => matches!(caller.role, Role::Pilot | Role::Admin)
                .then(|| json!({"type": "alert", "alert": &**alert})),
        }
    }
}

impl LiveEvent {
    /// The message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            LiveEvent::Drone { .. } => "drone",
            LiveEvent::Task(_) => "task",
            LiveEvent::Alert(_) => "alert",
        }
    }
}

/// One event on the channel, with its text for pilots and administrators
/// written once for all of them (they see the same), on first demand.
#[derive(Debug)]
pub struct Published {
    pub event: LiveEvent,
    for_everything: OnceLock<Option<Arc<str>>>,
}

impl Published {
    pub fn new(event: LiveEvent) -> Published {
        Published {
            event,
            for_everything: OnceLock::new(),
        }
    }

    /// The JSON text this caller may see, or None.
    pub fn text_for(&self, caller: &Caller) -> Option<Arc<str>> {
        match caller.role {
            Role::Pilot | Role::Admin => self
                .for_everything
                .get_or_init(|| {
                    self.event
                        .for_caller(caller)
                        .map(|v| Arc::from(v.to_string()))
                })
                .clone(),
            Role::Department => self
                .event
                .for_caller(caller)
                .map(|v| Arc::from(v.to_string())),
        }
    }
}

/// The broadcast side; subscribers call [`LiveHub::subscribe`].
pub struct LiveHub {
    tx: broadcast::Sender<Arc<Published>>,
}

impl LiveHub {
    /// Starts the sampler, which stops once the hub is dropped or the
    /// dispatcher is gone, and idles while nobody listens.
    pub fn start(dispatcher: &Arc<Dispatcher>) -> Arc<LiveHub> {
        let (tx, _) = broadcast::channel(BUFFER);
        let hub = Arc::new(LiveHub { tx });
        let weak_hub = Arc::downgrade(&hub);
        let weak_dispatcher = Arc::downgrade(dispatcher);
        tokio::spawn(sample(weak_hub.clone(), weak_dispatcher));
        tokio::spawn(relay_alerts(weak_hub, dispatcher.alert_desk().subscribe()));
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Clients subscribed now (each open stream holds one subscription).
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// For tests and other producers: puts one event on the channel.
    pub fn publish(&self, event: LiveEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(Arc::new(Published::new(event)));
    }
}

/// Alert changes go out as they happen, not at the sampling period.
async fn relay_alerts(hub: Weak<LiveHub>, mut changes: broadcast::Receiver<Alert>) {
    loop {
        let alert = match changes.recv().await {
            Ok(alert) => alert,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live stream: alert changes dropped");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        hub.publish(LiveEvent::Alert(Arc::new(alert)));
    }
}

async fn sample(hub: Weak<LiveHub>, dispatcher: Weak<Dispatcher>) {
    let mut ticker = tokio::time::interval(PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut since_ms = chrono::Utc::now().timestamp_millis();
    let mut owners: HashMap<String, String> = HashMap::new();
    loop {
        ticker.tick().await;
        let (Some(hub), Some(dispatcher)) = (hub.upgrade(), dispatcher.upgrade()) else {
            return;
        };
        if hub.tx.receiver_count() == 0 {
            since_ms = chrono::Utc::now().timestamp_millis();
            continue;
        }
        let now = chrono::Utc::now().timestamp_millis();
        match dispatcher.store().tasks_updated_since(since_ms).await {
            Ok(tasks) => {
                for task in tasks {
                    owners.insert(task.id.clone(), task.department_id.clone());
                    hub.publish(LiveEvent::Task(Arc::new(task)));
                }
                // Rows stamped in this same millisecond are sent again next
                // time rather than missed.
                since_ms = now;
            }
            Err(error) => tracing::warn!(%error, "live stream: could not read task changes"),
        }
        let fleet = dispatcher.fleet_view();
        for id in fleet.iter().flat_map(|d| d.task_ids.iter()) {
            if !owners.contains_key(id) {
                if let Ok(Some(task)) = dispatcher.store().task(id).await {
                    owners.insert(id.clone(), task.department_id);
                }
            }
        }
        let on_board: HashMap<String, String> = fleet
            .iter()
            .flat_map(|d| d.task_ids.iter())
            .filter_map(|id| owners.get(id).map(|d| (id.clone(), d.clone())))
            .collect();
        owners = on_board.clone();
        let on_board = Arc::new(on_board);
        for view in fleet {
            hub.publish(LiveEvent::Drone {
                view: Arc::new(view),
                owners: on_board.clone(),
            });
        }
    }
}
