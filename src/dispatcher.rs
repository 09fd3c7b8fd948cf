//! The dispatcher service: takes tasks, keeps the live fleet picture from
//! MQTT, assigns and plans flights, commands the bridges and follows each
//! flight to its end. IO lives here; the decisions are made by the pure
//! `airspace`, `planning` and `dispatch` modules.
//!
//! One actor task handles every incoming MQTT message and every scheduling
//! round, so fleet state and task state change in one order only. The MQTT
//! event loop runs in its own task and forwards messages over a channel, so
//! publishing from the actor can never wait on a loop that is not polled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use geo::Point;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use wire::{
    Availability, Channel, Command, CommandBody, CommandReply, CommandState, EventBody,
    LandedState, Telemetry, Topic,
};

use crate::airspace;
use crate::airspace::deconflict::{self, EqualPriority, Intent, VolumeMargins};
use crate::airspace::route_check::timed_route;
use crate::airspace::{conformance, Zone, ZoneIndex, ZoneKind};
use crate::alerts::desk::AlertDesk;
use crate::alerts::{AlertKind, Condition};
use crate::coverage::{CoverageError, Overlap};
use crate::fleet_service::Service;
use crate::flight::{Flight, FlightTask, Leg};
use crate::instruments::{CommandOrigin, Instruments};
use crate::planning::{self, Airframe, SurveyPlan, Visit};
use crate::region::{Dock, Region};
use crate::scheduling::{self, Forecast, Launch, Ready, Waiting};

use crate::store::{ImageRow, Store, StoreError, TaskRow};
use crate::task::{Priority, TaskRequest, TaskState, Work};

mod imagery;
mod takeover;
pub use takeover::{TakeOver, TakeOverError, TakenOver};
mod fleet_ops;
mod series;
mod zones;
pub use fleet_ops::{DroneAdminView, ServiceChange, ServiceError, SHARE_PERIOD};
pub use series::SeriesSubmitted;
pub use zones::{import_into_store, read_stored, ZoneDeleteError, ZoneImportError};

/// A drone the dispatcher knows: its id and what it carries.
#[derive(Debug, Clone)]
pub struct DroneRecord {
    pub id: String,
    pub dock_id: String,
    pub sensors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub mqtt_url: String,
    pub region: Region,
    pub airframe: Airframe,
    pub drones: Vec<DroneRecord>,
    /// Telemetry older than this makes a drone not ready for new work.
    pub telemetry_stale_after: Duration,
    /// A bridge answers within its own MAVLink timeouts (seconds per
    /// command, a little more per mission item); silence past this means the
    /// bridge or the broker is gone, and the task fails instead of waiting
    /// forever.
    pub command_reply_limit: Duration,
    /// A stable MQTT client id makes the dispatcher's session persistent:
    /// the broker keeps its subscriptions and queues the bridges' events and
    /// replies while it is down, so a restarted dispatcher picks up exactly
    /// where it stopped. `None`: a fresh id and a clean session (tests, the
    /// demo's throw-away broker). Only one dispatcher may use an id.
    pub mqtt_client_id: Option<String>,
}

/// What the API shows of one drone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DroneView {
    pub id: String,
    pub dock_id: String,
    pub sensors: Vec<String>,
    pub online: bool,
    pub telemetry: Option<Telemetry>,
    /// The task being flown now (the first unfinished one of the sortie).
    pub task_id: Option<String>,
    /// Every task of the sortie, in the order flown.
    pub task_ids: Vec<String>,
    /// Conformance alerts from its last position: off its planned volumes,
    /// in or near a zone that refuses flight, outside the operating area.
    pub alerts: Vec<String>,
    pub seconds_since_telemetry: Option<f64>,
    /// The pilot holding it, if one has taken it over.
    pub taken_over: Option<TakeOver>,
}

#[derive(Debug, Default)]
struct DroneLive {
    online: bool,
    telemetry: Option<Telemetry>,
    telemetry_at: Option<Instant>,
    flight: Option<Flight>,
    mission_completed: bool,
    /// Sent home to free it for this emergency task.
    recalled_for: Option<String>,
    /// What its last position breaks: planned volumes, zones.
    alerts: Vec<String>,
    /// When its bridge said it went offline (Last Will or shutdown).
    offline_since: Option<Instant>,
    /// When the dispatcher began following its flight (launch or restart).
    following_since: Option<Instant>,
    /// Its sortie has taken off (started), so it is out in the air.
    flying: bool,
    /// The planned route of the flight with this id (lon/lat), for the
    /// console; stored with the flight, so a restart picks it up again
    /// (flights stored before routes were kept have none).
    planned_route: Option<(String, Vec<Point>)>,
}

/// Time a drone spends on its dock between two flights, seconds: a full
/// recharge, which is what a survey's back-to-back legs need.
const RECHARGE_S: f64 = 45.0 * 60.0;

/// A request's window in seconds from `now`: opened (0 or more) and
/// closing (infinity when open-ended); `Err` with the closing time if it has
/// closed.
fn window_from_now(
    request: &TaskRequest,
    now: chrono::DateTime<Utc>,
) -> Result<(f64, f64), chrono::DateTime<Utc>> {
    let Some(window) = request.window else {
        return Ok((0.0, f64::INFINITY));
    };
    let seconds = |t: chrono::DateTime<Utc>| (t - now).num_milliseconds() as f64 / 1000.0;
    let start = window.start.map_or(0.0, |s| seconds(s).max(0.0));
    match window.end {
        Some(end) if end <= now => Err(end),
        Some(end) => Ok((start, seconds(end))),
        None => Ok((start, f64::INFINITY)),
    }
}

/// `HH:MM` in the region's local time.
fn local_time(t: chrono::DateTime<Utc>, utc_offset_hours: i32) -> String {
    let offset = chrono::FixedOffset::east_opt(utc_offset_hours * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
    t.with_timezone(&offset).format("%H:%M").to_string()
}

/// A pilot is warned this close to a zone that refuses flight, metres.
const ZONE_PROXIMITY_ALERT_M: f64 = 50.0;

/// F3548 priority of a sortie from its most urgent task.
fn intent_priority(priority: Priority) -> i32 {
    match priority {
        Priority::Routine => 0,
        Priority::Urgent => 10,
        Priority::Emergency => 100,
    }
}

/// What a queued task would fly if launched: its visit, and for a survey
/// the leg.
type Planned = (Visit, Option<Leg>);

/// A drone as a scheduling round sees it.
#[derive(Debug, Clone)]
struct Candidate {
    drone_id: String,
    position: Point,
    battery_pct: f64,
    /// Online, fresh telemetry, on the ground, disarmed, not flying a sortie.
    ready: bool,
    sensors: Vec<String>,
}

/// A task whose drone landed before reaching it goes back to the queue this
/// many times; after that it fails with the reason.
const MAX_ATTEMPTS: u32 = 3;
/// Time given to the planner each scheduling round.
const PLANNING_BUDGET: Duration = Duration::from_millis(40);

/// What a command in flight was sent for.
#[derive(Debug, Clone)]
enum Purpose {
    Upload,
    Start,
    /// Return to the dock to be free for an emergency.
    Recall,
}

#[derive(Debug, Clone)]
struct Pending {
    task_ids: Vec<String>,
    drone_id: String,
    purpose: Purpose,
    sent_at: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatcherError {
    #[error("MQTT URL `{0}` is not of the form mqtt://host:port")]
    MqttUrl(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Dispatcher {
    store: Store,
    config: DispatcherConfig,
    fleet: Mutex<HashMap<String, DroneLive>>,
    pending: Mutex<HashMap<String, Pending>>,
    mqtt: AsyncClient,
    wake: Notify,
    eventloop: Mutex<Option<rumqttc::EventLoop>>,
    /// How many times each task has been sent up and come back unflown.
    attempts: Mutex<HashMap<String, u32>>,
    /// Survey plans by request.
    surveys: Mutex<HashMap<String, Arc<SurveyPlan>>>,
    /// The 4D volumes of every sortie in the air, by drone.
    intents: Mutex<HashMap<String, Intent>>,
    /// Temporary restrictions created at run time (also in the store).
    restrictions: Mutex<Vec<Zone>>,
    /// The region's zones and the restrictions, indexed; replaced whole when
    /// a restriction comes or goes.
    zones: Mutex<Arc<ZoneIndex>>,
    /// Alerts with identity: raised, cleared, acknowledged, stored.
    alerts: AlertDesk,
    /// Drones pilots have taken over (also in the store).
    takeovers: Mutex<HashMap<String, TakeOver>>,
    /// Telemetry rate, command latency and queue wait, for /metrics.
    instruments: Arc<Instruments>,
    /// Drones' service states (maintenance, lost); absent is in service.
    service: Mutex<HashMap<String, Service>>,
    /// Wind and lost-link threshold (see [`DispatchPolicy`]).
    policy: Mutex<DispatchPolicy>,
    /// When recurring series were last checked for occurrences due.
    series_checked: Mutex<Option<Instant>>,
    /// Departments' weekly shares of flight time, as last read.
    accounting: Mutex<Option<(Instant, HashMap<String, crate::routing::fair_share::Share>)>>,
    /// Zones imported at run time (also in the store), and the lock that
    /// serialises changes to them.
    imported_zones: Mutex<Vec<Zone>>,
    zone_changes: tokio::sync::Mutex<()>,
    /// Whether [`Dispatcher::restore`] has read the stored state back.
    restored: tokio::sync::Mutex<bool>,
}

/// Operating figures set by the operator, with safe defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchPolicy {
    /// The design wind every flight is planned for.
    pub wind: planning::Wind,
    /// A drone out on a flight unheard of for longer is declared lost and
    /// its remaining work re-queued.
    pub lost_after: Duration,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        DispatchPolicy {
            wind: planning::Wind::CALM,
            lost_after: Duration::from_secs(60),
        }
    }
}

/// Marks a recall caused by a restriction rather than an emergency task
/// (`DroneLive::recalled_for` and the stored flight hold either).
const RESTRICTION_RECALL: &str = "restriction:";

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn parse_mqtt_url(url: &str) -> Option<(String, u16)> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))?;
    let (host, port) = rest.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

impl Dispatcher {
    pub fn new(config: DispatcherConfig, store: Store) -> Result<Arc<Dispatcher>, DispatcherError> {
        let (host, port) = parse_mqtt_url(&config.mqtt_url)
            .ok_or_else(|| DispatcherError::MqttUrl(config.mqtt_url.clone()))?;
        let zones = airspace::region_index(&config.region);
        let (client_id, persistent) = match &config.mqtt_client_id {
            Some(id) => (id.clone(), true),
            None => (
                format!("skyshare-dispatcher-{}", uuid::Uuid::new_v4().simple()),
                false,
            ),
        };
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_clean_session(!persistent);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (mqtt, eventloop) = AsyncClient::new(options, 1_000);
        let fleet = config
            .drones
            .iter()
            .map(|d| (d.id.clone(), DroneLive::default()))
            .collect();
        Ok(Arc::new(Dispatcher {
            alerts: AlertDesk::new(store.clone()),
            takeovers: Mutex::new(HashMap::new()),
            instruments: Arc::new(Instruments::default()),
            store,
            config,
            fleet: Mutex::new(fleet),
            pending: Mutex::new(HashMap::new()),
            mqtt,
            wake: Notify::new(),
            eventloop: Mutex::new(Some(eventloop)),
            attempts: Mutex::new(HashMap::new()),
            surveys: Mutex::new(HashMap::new()),
            intents: Mutex::new(HashMap::new()),
            restrictions: Mutex::new(Vec::new()),
            zones: Mutex::new(Arc::new(zones)),
            service: Mutex::new(HashMap::new()),
            policy: Mutex::new(DispatchPolicy::default()),
            series_checked: Mutex::new(None),
            accounting: Mutex::new(None),
            imported_zones: Mutex::new(Vec::new()),
            zone_changes: tokio::sync::Mutex::new(()),
            restored: tokio::sync::Mutex::new(false),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn alert_desk(&self) -> &AlertDesk {
        &self.alerts
    }

    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    pub fn region(&self) -> &Region {
        &self.config.region
    }

    /// Validates a request and stores it as queued. Nothing is stored when it
    /// is refused.
    pub async fn submit(
        &self,
        department_id: &str,
        request: TaskRequest,
    ) -> Result<TaskRow, SubmitError> {
        let legs = self.vet(&request).await?;
        let now = now_ms();
        let task = TaskRow {
            id: uuid::Uuid::new_v4().to_string(),
            department_id: department_id.to_owned(),
            kind: request.kind.clone(),
            request: serde_json::to_value(&request).expect("request serialises"),
            state: TaskState::Queued.as_str().into(),
            reason: Some("waiting for the scheduler".into()),
            drone_id: None,
            created_at_ms: now,
            updated_at_ms: now,
            // A survey's progress counts its legs; a point's, its items.
            progress_seq: legs.map(|_| 0),
            progress_total: legs,
        };
        self.store.insert_task(&task).await?;
        tracing::info!(task = %task.id, department = department_id, "task queued");
        self.wake.notify_one();
        Ok(task)
    }

    /// Every check a request must pass before it is stored; for a survey,
    /// how many legs it is cut into.
    async fn vet(&self, request: &TaskRequest) -> Result<Option<i64>, SubmitError> {
        let carriers: Vec<&DroneRecord> = self
            .config
            .drones
            .iter()
            .filter(|d| d.sensors.contains(&request.sensor))
            .collect();
        if carriers.is_empty() {
            return Err(SubmitError::Refused {
                field: "sensor",
                message: format!("no drone in the fleet carries a {} sensor", request.sensor),
            });
        }
        if let Some(why) = self.all_out_of_service(&carriers) {
            return Err(SubmitError::Refused {
                field: "sensor",
                message: format!(
                    "every drone carrying a {} sensor is out of service: {why}",
                    request.sensor
                ),
            });
        }
        let wind = self.policy().wind;
        request
            .check_window(Utc::now())
            .map_err(|e| SubmitError::Refused {
                field: e.field,
                message: e.message,
            })?;
        let zones = self.zone_index();
        // Every corner of an area, every point of a corridor, must be
        // somewhere the fleet may fly when the task may first be flown:
        // its window's opening, or now (as `POST /airspace/check` asks).
        let now = Utc::now();
        let when = request
            .window
            .and_then(|w| w.start)
            .map_or(now, |s| s.max(now));
        for (index, at) in request.positions().into_iter().enumerate() {
            airspace::check_point_in(&zones, self.region(), at, request.alt_m, when).map_err(
                |r| SubmitError::Refused {
                    field: "geometry",
                    message: if index == 0 {
                        r.to_string()
                    } else {
                        format!("position {index}: {r}")
                    },
                },
            )?;
        }
        // Even a full battery from the nearest dock must be enough.
        let nearest = self.nearest_dock(request.anchor());
        let legs = match request.work() {
            Work::Point(inspection) => {
                let plan = planning::plan_sortie_in_wind(
                    nearest,
                    &[Visit::Inspect(inspection)],
                    &self.config.airframe,
                    &wind,
                )
                .flight;
                self.check_deadline(request, plan.duration_s, 1)?;
                if plan.battery_needed_pct(&self.config.airframe) > 100.0 {
                    let in_wind = if wind.speed_mps > 0.0 {
                        format!(
                            " in the planned wind of {:.0} m/s from {:.0}°",
                            wind.speed_mps, wind.from_deg
                        )
                    } else {
                        String::new()
                    };
                    return Err(SubmitError::Refused {
                        field: "geometry",
                        message: format!(
                            "the point is too far: from the nearest dock `{}` the flight needs {:.0}% of a battery{in_wind} plus the {:.0}% reserve",
                            nearest.id, plan.energy_pct, self.config.airframe.reserve_pct
                        ),
                    });
                }
                None
            }
            _ => {
                let survey = self
                    .survey_plan(request)
                    .map_err(|e| SubmitError::Refused {
                        field: "geometry",
                        message: format!(
                            "cannot be surveyed from the nearest dock `{}`: {e}",
                            nearest.id
                        ),
                    })?;
                let longest_s = survey
                    .legs
                    .iter()
                    .map(|leg| {
                        let visit = Visit::Survey(leg.clone());
                        planning::plan_sortie_in_wind(
                            nearest,
                            &[visit],
                            &self.config.airframe,
                            &wind,
                        )
                        .flight
                        .duration_s
                    })
                    .fold(0.0, f64::max);
                self.check_deadline(request, longest_s, survey.legs.len())?;
                Some(survey.legs.len() as i64)
            }
        };
        Ok(legs)
    }

    /// Refuses work that cannot be done before its window closes even if
    /// every drone carrying its sensor starts on it now: `sorties` flights
    /// of at most `flight_s` each, flown in parallel, with a recharge between
    /// a drone's flights.
    fn check_deadline(
        &self,
        request: &TaskRequest,
        flight_s: f64,
        sorties: usize,
    ) -> Result<(), SubmitError> {
        let Some(end) = request.window.and_then(|w| w.end) else {
            return Ok(());
        };
        let start = request
            .window
            .and_then(|w| w.start)
            .map_or(Utc::now(), |s| s.max(Utc::now()));
        let available_s = (end - start).num_seconds() as f64;
        let capable = self
            .config
            .drones
            .iter()
            .filter(|d| d.sensors.contains(&request.sensor))
            .count()
            .max(1);
        let rounds = sorties.div_ceil(capable) as f64;
        let needed_s = rounds * flight_s + (rounds - 1.0) * RECHARGE_S;
        if needed_s > available_s {
            return Err(SubmitError::Refused {
                field: "window.end",
                message: format!(
                    "cannot be done in time: {sorties} flight(s) of up to {} min on {capable} drone(s) with a {} sensor need about {} min, and the window leaves {} min",
                    (flight_s / 60.0).ceil(),
                    request.sensor,
                    (needed_s / 60.0).ceil(),
                    (available_s / 60.0).floor()
                ),
            });
        }
        Ok(())
    }

    /// The survey of an area or corridor request, planned from the dock
    /// nearest to it so that the same request always gives the same legs,
    /// whichever drone flies each one. Cached: planning an area compares
    /// many headings.
    fn survey_plan(&self, request: &TaskRequest) -> Result<Arc<SurveyPlan>, CoverageError> {
        let wind = self.policy().wind;
        let key = format!(
            "{}|{}@{}",
            serde_json::to_string(request).expect("request serialises"),
            wind.speed_mps,
            wind.from_deg
        );
        if let Some(plan) = self.surveys.lock().expect("surveys").get(&key) {
            return Ok(Arc::clone(plan));
        }
        let dock = self.nearest_dock(request.anchor()).position;
        let overlap = request.overlap.map_or_else(Overlap::default, |o| Overlap {
            side: o.side,
            front: o.front,
        });
        let plan = Arc::new(planning::plan_survey_in_wind(
            &request.work(),
            request.alt_m,
            &request.sensor,
            overlap,
            dock,
            &self.config.airframe,
            &wind,
        )?);
        self.surveys
            .lock()
            .expect("surveys")
            .insert(key, Arc::clone(&plan));
        Ok(plan)
    }

    /// The flight a request would need, as submitted now: its route from
    /// the nearest dock (a survey's sorties one after the other, each back
    /// to the dock), the highest altitude flown, the total flight time and
    /// the dock's id. For the pre-submit airspace check.
    pub fn planned_flight(
        &self,
        request: &TaskRequest,
    ) -> Result<(Vec<Point>, f64, f64, String), CoverageError> {
        let nearest = self.nearest_dock(request.anchor());
        let visits: Vec<Visit> = match request.work() {
            Work::Point(inspection) => vec![Visit::Inspect(inspection)],
            _ => self
                .survey_plan(request)?
                .legs
                .iter()
                .cloned()
                .map(Visit::Survey)
                .collect(),
        };
        // The design wind, as the submission and the launch plan with.
        let wind = self.policy().wind;
        let mut route: Vec<Point> = Vec::new();
        let mut duration_s = 0.0;
        for visit in &visits {
            let flight = planning::plan_sortie_in_wind(
                nearest,
                std::slice::from_ref(visit),
                &self.config.airframe,
                &wind,
            )
            .flight;
            duration_s += flight.duration_s;
            // Each sortie starts where the last ended, at the dock.
            let skip = usize::from(!route.is_empty());
            route.extend(flight.route.into_iter().skip(skip));
        }
        let highest = visits.iter().map(Visit::alt_agl_m).fold(0.0, f64::max);
        Ok((route, highest, duration_s, nearest.id.clone()))
    }

    /// Each flying drone's planned route (lon/lat), when known.
    pub fn flight_routes(&self) -> HashMap<String, Vec<Point>> {
        self.fleet
            .lock()
            .expect("fleet lock")
            .iter()
            .filter_map(|(id, live)| {
                let flight = live.flight.as_ref()?;
                let (of, route) = live.planned_route.as_ref()?;
                (*of == flight.id).then(|| (id.clone(), route.clone()))
            })
            .collect()
    }

    fn nearest_dock(&self, target: Point) -> &Dock {
        use geo::{Distance, Haversine};
        self.config
            .region
            .docks
            .iter()
            .min_by(|a, b| {
                Haversine
                    .distance(a.position, target)
                    .total_cmp(&Haversine.distance(b.position, target))
            })
            .expect("a region has at least one dock")
    }

    pub fn fleet_view(&self) -> Vec<DroneView> {
        let held = self.takeovers.lock().expect("takeovers").clone();
        let fleet = self.fleet.lock().expect("fleet lock");
        let mut out: Vec<DroneView> = self
            .config
            .drones
            .iter()
            .map(|d| {
                let live = fleet.get(&d.id);
                DroneView {
                    id: d.id.clone(),
                    dock_id: d.dock_id.clone(),
                    sensors: d.sensors.clone(),
                    online: live.is_some_and(|l| l.online),
                    telemetry: live.and_then(|l| l.telemetry.clone()),
                    task_id: live
                        .and_then(|l| l.flight.as_ref())
                        .and_then(|f| f.current())
                        .map(|t| t.id.clone()),
                    task_ids: live
                        .and_then(|l| l.flight.as_ref())
                        .map(Flight::task_ids)
                        .unwrap_or_default(),
                    alerts: live.map(|l| l.alerts.clone()).unwrap_or_default(),
                    seconds_since_telemetry: live
                        .and_then(|l| l.telemetry_at)
                        .map(|t| t.elapsed().as_secs_f64()),
                    taken_over: held.get(&d.id).cloned(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Reads back what the store keeps (imported zones, restrictions,
    /// alerts, take-overs, service states). Call it before serving the API:
    /// a request answered before it would be checked against a region
    /// without its imported zones and restrictions. Runs once; `run` calls
    /// it too, for callers that serve nothing.
    pub async fn restore(&self) -> Result<(), DispatcherError> {
        let mut restored = self.restored.lock().await;
        if *restored {
            return Ok(());
        }
        self.load_imported_zones().await?;
        self.load_restrictions().await?;
        self.alerts.load().await?;
        self.load_takeovers().await?;
        self.load_service().await?;
        *restored = true;
        Ok(())
    }

    /// Runs until `shutdown`: MQTT ingest, scheduling and flight follow-up.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> Result<(), DispatcherError> {
        self.restore().await?;
        self.resume_after_restart().await?;
        self.create_due_occurrences(true).await;
        let (tx, mut rx) = mpsc::channel(10_000);
        let eventloop = self
            .eventloop
            .lock()
            .expect("lock")
            .take()
            .expect("run once");
        let pump = tokio::spawn(pump_mqtt(
            eventloop,
            self.mqtt.clone(),
            tx,
            shutdown.clone(),
        ));
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                message = rx.recv() => match message {
                    Some((topic, payload)) => self.on_message(&topic, &payload).await,
                    None => break,
                },
                _ = self.wake.notified() => self.schedule().await,
                _ = tick.tick() => {
                    self.expire_silent_commands().await;
                    self.detect_lost_drones().await;
                    self.create_due_occurrences(false).await;
                    self.schedule().await;
                }
            }
        }
        let _ = self.mqtt.disconnect().await;
        pump.abort();
        Ok(())
    }

    /// Tasks caught mid-way by a restart: flying ones are followed again;
    /// ones whose upload was never confirmed go back to the queue.
    async fn resume_after_restart(&self) -> Result<(), StoreError> {
        // Sorties in the air come back as they were stored: which items
        // are whose, how far the drone got, whether it was recalled.
        let mut followed: std::collections::HashSet<String> = Default::default();
        for row in self.store.open_flights().await? {
            if row.state != crate::store::FLIGHT_FLYING {
                // Never confirmed started: its tasks go back to the queue
                // below, and the flight is closed unflown.
                self.store
                    .end_flight(&row.id, crate::store::FLIGHT_ABORTED, now_ms())
                    .await?;
                continue;
            }
            let flight = Flight::from_row(&row);
            for task in &flight.tasks {
                followed.insert(task.id.clone());
                // Started but stopped before its tasks were marked so.
                if !task.finished
                    && self
                        .store
                        .task(&task.id)
                        .await?
                        .is_some_and(|t| t.state == TaskState::Assigned.as_str())
                {
                    self.store
                        .set_task_state(
                            &task.id,
                            TaskState::InFlight.as_str(),
                            None,
                            None,
                            now_ms(),
                        )
                        .await?;
                }
            }
            tracing::info!(drone = row.drone_id, flight = row.id, last_reached = ?row.last_reached, "resuming a flight after a restart");
            let mut fleet = self.fleet.lock().expect("fleet");
            let live = fleet.entry(row.drone_id.clone()).or_default();
            live.flight = Some(flight);
            live.mission_completed = row.mission_completed;
            live.recalled_for = row.recalled_for.clone();
            live.following_since = Some(Instant::now());
            live.flying = true;
            live.planned_route = (!row.route.is_empty()).then(|| {
                let route = row.route.iter().map(|&[x, y]| Point::new(x, y)).collect();
                (row.id.clone(), route)
            });
        }
        for task in self
            .store
            .tasks_in_state(TaskState::InFlight.as_str())
            .await?
        {
            if followed.contains(&task.id) {
                continue;
            }
            if let Some(drone) = &task.drone_id {
                // A flight from before flights were stored: which items
                // were whose is unknown, so progress and photos go to the
                // first unfinished task of the drone's sortie.
                let mut fleet = self.fleet.lock().expect("fleet");
                let live = fleet.entry(drone.clone()).or_default();
                live.following_since = Some(Instant::now());
                live.flying = true;
                live.flight
                    .get_or_insert_with(Flight::default)
                    .tasks
                    .push(FlightTask {
                        id: task.id.clone(),
                        items: None,
                        leg: None,
                        finished: false,
                    });
            }
        }
        for task in self
            .store
            .tasks_in_state(TaskState::Assigned.as_str())
            .await?
        {
            self.store
                .set_task_state(
                    &task.id,
                    TaskState::Queued.as_str(),
                    Some("re-queued after a dispatcher restart"),
                    None,
                    now_ms(),
                )
                .await?;
        }
        Ok(())
    }

    /// Handles one MQTT message as if the broker had delivered it: for
    /// benchmarks that feed a fleet's telemetry without a broker.
    pub async fn ingest(&self, topic: &str, payload: &[u8]) {
        self.on_message(topic, payload).await
    }

    async fn on_message(&self, topic: &str, payload: &[u8]) {
        let parsed = match Topic::parse(topic) {
            Ok(t) => t,
            Err(error) => {
                tracing::warn!(topic, %error, "ignoring message on an unknown topic");
                return;
            }
        };
        let drone = parsed.drone.clone();
        if !self.fleet.lock().expect("fleet").contains_key(&drone) {
            tracing::debug!(drone, "message from a drone not in the fleet registry");
            return;
        }
        let outcome = match parsed.channel {
            Channel::Status => match wire::decode::<wire::Status>(payload) {
                Ok(s) => {
                    let online = s.state == Availability::Online;
                    {
                        let mut fleet = self.fleet.lock().expect("fleet");
                        let live = fleet.entry(drone.clone()).or_default();
                        live.online = online;
                        if online {
                            live.offline_since = None;
                        } else if live.offline_since.is_none() {
                            live.offline_since = Some(Instant::now());
                        }
                    }
                    tracing::info!(drone, online, "drone status");
                    self.alerts.bridge_status(&drone, online).await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Channel::Telemetry => match wire::decode::<Telemetry>(payload) {
                Ok(t) => {
                    self.instruments.telemetry(&drone, Instant::now());
                    let findings = self.conformance(&drone, &t);
                    let alerts: Vec<String> =
                        findings.iter().map(crate::alerts::describe).collect();
                    {
                        let mut fleet = self.fleet.lock().expect("fleet");
                        let live = fleet.entry(drone.clone()).or_default();
                        live.online = true;
                        live.offline_since = None;
                        live.telemetry = Some(t);
                        live.telemetry_at = Some(Instant::now());
                        live.alerts = alerts;
                    }
                    let conditions: Vec<Condition> =
                        findings.iter().map(Condition::from_conformance).collect();
                    self.alerts.observe_position(&drone, &conditions).await;
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Channel::Events => match wire::decode::<wire::Event>(payload) {
                Ok(event) => {
                    if let Err(error) = self.on_event(&drone, event).await {
                        tracing::error!(drone, %error, "could not apply event");
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Channel::Replies => match wire::decode::<CommandReply>(payload) {
                Ok(reply) => {
                    if let Err(error) = self.on_reply(reply).await {
                        tracing::error!(drone, %error, "could not apply command reply");
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Channel::Commands | Channel::MavlinkUp | Channel::MavlinkDown => Ok(()),
        };
        if let Err(error) = outcome {
            tracing::warn!(topic, %error, "refused an unreadable MQTT payload");
        }
    }

    async fn on_event(&self, drone: &str, event: wire::Event) -> Result<(), StoreError> {
        if !self
            .store
            .mark_event_applied(&event.id, drone, event.ts_ms)
            .await?
        {
            tracing::debug!(drone, event = %event.id, "duplicate event ignored");
            return Ok(());
        }
        let now = now_ms();
        // Alerts the bridge announces carry the time it saw them.
        let at = chrono::DateTime::from_timestamp_millis(event.ts_ms).unwrap_or_else(Utc::now);
        match event.body {
            EventBody::MissionItemReached { seq, total } => {
                // Credit the task whose items these are; finish it when its
                // last item is reached, even while the sortie flies on.
                let reached = {
                    let mut fleet = self.fleet.lock().expect("fleet");
                    fleet
                        .get_mut(drone)
                        .and_then(|l| l.flight.as_mut())
                        .map(|flight| (flight.id.clone(), flight.reach(seq, total)))
                };
                let Some((flight_id, reached)) = reached else {
                    return Ok(());
                };
                if !flight_id.is_empty() {
                    let finished = reached.as_ref().filter(|p| p.finished).map(|p| p.index);
                    self.store
                        .flight_reached(&flight_id, i64::from(seq), finished)
                        .await?;
                }
                let progress = reached.map(|p| (p.task_id, p.leg, p.reached, p.of, p.finished));
                match progress {
                    // A survey's progress counts legs, not items.
                    Some((task, Some(leg), _, _, true)) => {
                        self.finish_leg(drone, &task, leg).await?
                    }
                    Some((_, Some(_), _, _, false)) | None => {}
                    Some((task, None, reached, of, finished)) => {
                        self.store
                            .set_task_progress(&task, i64::from(reached), i64::from(of), now)
                            .await?;
                        if finished {
                            self.store
                                .set_task_state(
                                    &task,
                                    TaskState::Completed.as_str(),
                                    None,
                                    None,
                                    now,
                                )
                                .await?;
                            tracing::info!(drone, task, "task completed");
                        }
                    }
                }
            }
            EventBody::MissionCompleted { .. } => {
                let flight_id = self
                    .fleet
                    .lock()
                    .expect("fleet")
                    .get_mut(drone)
                    .and_then(|live| {
                        live.mission_completed = true;
                        live.flight.as_ref().map(|f| f.id.clone())
                    });
                if let Some(id) = flight_id.filter(|id| !id.is_empty()) {
                    self.store.flight_mission_completed(&id).await?;
                }
            }
            EventBody::ImageCaptured(image) => {
                let task_id = self
                    .fleet
                    .lock()
                    .expect("fleet")
                    .get(drone)
                    .and_then(|l| l.flight.as_ref())
                    .and_then(|f| f.task_at(f.last_reached))
                    .map(|t| t.id.clone());
                let Some(task_id) = task_id else {
                    tracing::warn!(
                        drone,
                        "image captured with no task assigned; not catalogued"
                    );
                    return Ok(());
                };
                let Some(task) = self.store.task(&task_id).await? else {
                    return Ok(());
                };
                let captured_at_ms = image
                    .time_utc_us
                    .map(|us| (us / 1000) as i64)
                    .unwrap_or(event.ts_ms);
                self.store_image_attitude(drone, &event.id, image.q).await?;
                self.store
                    .insert_image(&ImageRow {
                        id: event.id.clone(),
                        task_id: task.id,
                        department_id: task.department_id,
                        drone_id: drone.to_owned(),
                        image_index: i64::from(image.index),
                        captured_at_ms,
                        lat_deg: image.lat_deg,
                        lon_deg: image.lon_deg,
                        alt_msl_m: image.alt_msl_m,
                        alt_rel_m: image.alt_rel_m,
                        file_url: image.file_url,
                    })
                    .await?;
            }
            EventBody::Landed { .. } => {
                let (flight, completed, recalled_for) = {
                    let mut fleet = self.fleet.lock().expect("fleet");
                    let live = fleet.entry(drone.to_owned()).or_default();
                    let done = (
                        live.flight.take(),
                        live.mission_completed,
                        live.recalled_for.take(),
                    );
                    self.intents.lock().expect("intents").remove(drone);
                    live.mission_completed = false;
                    live.following_since = None;
                    live.flying = false;
                    done
                };
                // What the flight's airspace asked of its pilot ends with
                // it, and so does what it asked of others.
                self.alerts
                    .clear_kind(drone, AlertKind::AirspaceConflict, Utc::now())
                    .await;
                self.end_give_way(drone).await;
                if let Some(id) = flight.as_ref().map(|f| &f.id).filter(|id| !id.is_empty()) {
                    self.store
                        .end_flight(id, crate::store::FLIGHT_LANDED, now)
                        .await?;
                }
                for task in flight.map(|f| f.tasks).unwrap_or_default() {
                    if task.finished {
                        continue;
                    }
                    match (task.leg, &recalled_for) {
                        (Some(leg), None) if completed => {
                            self.finish_leg(drone, &task.id, leg).await?
                        }
                        (_, Some(cause)) if !completed => {
                            let reason = match cause.strip_prefix(RESTRICTION_RECALL) {
                                Some(zone) => format!(
                                    "drone {drone} was called home: restriction {zone} closed airspace on its route; re-queued"
                                ),
                                None => format!(
                                    "drone {drone} was recalled for emergency task {cause}; re-queued"
                                ),
                            };
                            self.store
                                .set_task_state(
                                    &task.id,
                                    TaskState::Queued.as_str(),
                                    Some(&reason),
                                    None,
                                    now,
                                )
                                .await?;
                        }
                        _ => {
                            self.settle_after_landing(drone, &task.id, completed)
                                .await?
                        }
                    }
                }
                self.wake.notify_one();
                // A failsafe ends with the drone on the ground.
                self.alerts
                    .clear(drone, AlertKind::Failsafe.as_str(), at)
                    .await;
            }
            EventBody::AutopilotLinkLost => {
                tracing::warn!(drone, "bridge lost its autopilot");
                let condition = Condition::single(
                    AlertKind::LinkLost,
                    "its bridge no longer hears the autopilot",
                );
                self.alerts.raise(drone, condition, at).await;
            }
            EventBody::AutopilotLinkRegained => {
                self.alerts
                    .clear(drone, AlertKind::LinkLost.as_str(), at)
                    .await
            }
            EventBody::StatusText { severity, text, .. } => {
                tracing::info!(drone, severity, text, "autopilot says")
            }
            EventBody::Failsafe { reason, mode } => {
                tracing::warn!(drone, reason, ?mode, "autopilot failsafe");
                let message = match mode {
                    Some(mode) => format!("autopilot failsafe: {reason} (now in {mode:?})"),
                    None => format!("autopilot failsafe: {reason}"),
                };
                let condition = Condition::single(AlertKind::Failsafe, message);
                self.alerts.raise(drone, condition, at).await;
            }
            EventBody::FenceBreached { breach, .. } => {
                tracing::warn!(drone, breach, "geofence breached");
                let condition = Condition::single(
                    AlertKind::FenceBreach,
                    format!("geofence breached: {breach}"),
                );
                self.alerts.raise(drone, condition, at).await;
            }
            EventBody::FenceCleared => {
                self.alerts
                    .clear(drone, AlertKind::FenceBreach.as_str(), at)
                    .await
            }
            EventBody::ModeChanged { .. } | EventBody::ArmedChanged { .. } => {}
        }
        Ok(())
    }

    /// A survey leg flown to its end: the survey is done after its last leg;
    /// otherwise it goes back to the queue for the next leg.
    async fn finish_leg(
        &self,
        drone: &str,
        task_id: &str,
        (leg, legs): (usize, usize),
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let done = (leg + 1) as i64;
        self.store
            .set_task_progress(task_id, done, legs as i64, now)
            .await?;
        if leg + 1 >= legs {
            self.store
                .set_task_state(task_id, TaskState::Completed.as_str(), None, None, now)
                .await?;
            tracing::info!(drone, task = task_id, legs, "survey completed");
        } else {
            let reason = format!("leg {done} of {legs} flown; the next leg waits for a drone");
            self.store
                .set_task_state(
                    task_id,
                    TaskState::Queued.as_str(),
                    Some(&reason),
                    None,
                    now,
                )
                .await?;
            tracing::info!(drone, task = task_id, leg = done, legs, "survey leg flown");
        }
        Ok(())
    }

    /// A task whose drone landed: done if the mission was completed or the
    /// task's own items were all reached; otherwise back to the queue to be
    /// planned again (up to [`MAX_ATTEMPTS`] times), never lost and never
    /// flown twice once done.
    async fn settle_after_landing(
        &self,
        drone: &str,
        task_id: &str,
        mission_completed: bool,
    ) -> Result<(), StoreError> {
        let Some(task) = self.store.task(task_id).await? else {
            return Ok(());
        };
        if task.state == TaskState::Completed.as_str() || task.state == TaskState::Failed.as_str() {
            return Ok(());
        }
        let now = now_ms();
        let reached_all = task.progress_total.is_some() && task.progress_seq >= task.progress_total;
        if mission_completed || reached_all {
            self.store
                .set_task_state(task_id, TaskState::Completed.as_str(), None, None, now)
                .await?;
            tracing::info!(drone, task = task_id, "task completed");
            return Ok(());
        }
        let attempts = {
            let mut attempts = self.attempts.lock().expect("attempts");
            let n = attempts.entry(task_id.to_owned()).or_insert(0);
            *n += 1;
            *n
        };
        if attempts >= MAX_ATTEMPTS {
            let reason = format!(
                "drone {drone} landed before reaching it, for the {attempts}th time; giving up"
            );
            return self.fail_task(task_id, &reason).await;
        }
        let reason =
            format!("drone {drone} landed before reaching it; re-queued to be planned again");
        tracing::warn!(drone, task = task_id, attempts, "task re-queued");
        self.store
            .set_task_state(
                task_id,
                TaskState::Queued.as_str(),
                Some(&reason),
                None,
                now,
            )
            .await
    }

    async fn on_reply(&self, reply: CommandReply) -> Result<(), StoreError> {
        if !reply.state.is_terminal() {
            return Ok(());
        }
        let Some(pending) = self
            .pending
            .lock()
            .expect("pending")
            .remove(&reply.request_id)
        else {
            return Ok(());
        };
        self.instruments
            .command_answered(CommandOrigin::Dispatcher, Some(pending.sent_at.elapsed()));
        let now = now_ms();
        if matches!(pending.purpose, Purpose::Upload | Purpose::Start)
            && self.is_taken_over(&pending.drone_id)
            && !(reply.state == CommandState::Succeeded
                && matches!(pending.purpose, Purpose::Start))
        {
            return self
                .abandon_for_takeover(&pending.drone_id, &pending.task_ids)
                .await;
        }
        match (reply.state, pending.purpose) {
            (CommandState::Succeeded, Purpose::Upload) => {
                self.send(
                    &pending.drone_id,
                    pending.task_ids.clone(),
                    CommandBody::StartMission,
                    Purpose::Start,
                )
                .await;
            }
            (CommandState::Succeeded, Purpose::Start) => {
                if let Some(id) = self.mark_flying(&pending.drone_id) {
                    self.store.flight_started(&id, now).await?;
                }
                for task in &pending.task_ids {
                    self.store
                        .set_task_state(task, TaskState::InFlight.as_str(), None, None, now)
                        .await?;
                }
                tracing::info!(
                    drone = pending.drone_id,
                    tasks = ?pending.task_ids,
                    "flight started"
                );
                // Started just as a pilot took it over: it holds for them.
                self.hold_for_pilot(&pending.drone_id).await;
            }
            (CommandState::Succeeded, Purpose::Recall) => {
                tracing::info!(drone = pending.drone_id, "recalled drone is returning");
            }
            (state, Purpose::Recall) => {
                // Let a later round try again, with this drone or another.
                tracing::warn!(drone = pending.drone_id, ?state, message = ?reply.message, "recall refused");
                let flight_id = self
                    .fleet
                    .lock()
                    .expect("fleet")
                    .get_mut(&pending.drone_id)
                    .and_then(|live| {
                        live.recalled_for = None;
                        live.flight.as_ref().map(|f| f.id.clone())
                    });
                if let Some(id) = flight_id.filter(|id| !id.is_empty()) {
                    self.store.flight_recalled(&id, None).await?;
                }
            }
            (state, purpose) => {
                let step = match purpose {
                    Purpose::Upload => "take the mission",
                    Purpose::Start | Purpose::Recall => "start the mission",
                };
                let reason = format!(
                    "drone {} could not {step}: {} ({})",
                    pending.drone_id,
                    reply.message.as_deref().unwrap_or("no detail"),
                    if state == CommandState::TimedOut {
                        "timed out"
                    } else {
                        "failed"
                    }
                );
                self.abort_flight(&pending.drone_id).await?;
                self.intents
                    .lock()
                    .expect("intents")
                    .remove(&pending.drone_id);
                for task in &pending.task_ids {
                    self.fail_task(task, &reason).await?;
                }
            }
        }
        Ok(())
    }

    /// Records a task as failed with the reason a person will read.
    async fn fail_task(&self, task_id: &str, reason: &str) -> Result<(), StoreError> {
        tracing::warn!(task = task_id, reason, "task failed");
        self.store
            .set_task_state(
                task_id,
                TaskState::Failed.as_str(),
                Some(reason),
                None,
                now_ms(),
            )
            .await
    }

    /// Fails the tasks whose command got no terminal reply in time, and
    /// frees their drones.
    async fn expire_silent_commands(&self) {
        let expired: Vec<(String, Pending)> = {
            let mut pending = self.pending.lock().expect("pending");
            let ids: Vec<String> = pending
                .iter()
                .filter(|(_, p)| p.sent_at.elapsed() > self.config.command_reply_limit)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        for (id, p) in expired {
            self.instruments
                .command_answered(CommandOrigin::Dispatcher, None);
            let reason = format!(
                "drone {} did not answer command {id} within {}s; its bridge or the broker may be down",
                p.drone_id,
                self.config.command_reply_limit.as_secs()
            );
            if let Err(error) = self.abort_flight(&p.drone_id).await {
                tracing::error!(%error, "could not record an aborted flight");
            }
            self.intents.lock().expect("intents").remove(&p.drone_id);
            for task in &p.task_ids {
                if let Err(error) = self.fail_task(task, &reason).await {
                    tracing::error!(%error, "could not record a command timeout");
                }
            }
        }
    }

    async fn send(&self, drone: &str, task_ids: Vec<String>, body: CommandBody, purpose: Purpose) {
        let command = Command {
            v: wire::VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            ts_ms: now_ms(),
            body,
        };
        tracing::info!(drone, tasks = ?task_ids, command = command.body.name(), id = %command.id, "sending command");
        self.pending.lock().expect("pending").insert(
            command.id.clone(),
            Pending {
                task_ids,
                drone_id: drone.to_owned(),
                purpose,
                sent_at: Instant::now(),
            },
        );
        let topic = Topic::new(drone, Channel::Commands).name();
        if let Err(error) = self
            .mqtt
            .publish(topic, QoS::AtLeastOnce, false, wire::encode(&command))
            .await
        {
            tracing::error!(drone, %error, "could not queue command for the broker");
        }
    }

    fn candidates(&self) -> Vec<Candidate> {
        let fleet = self.fleet.lock().expect("fleet");
        self.config
            .drones
            .iter()
            .filter_map(|d| {
                let live = fleet.get(&d.id)?;
                let t = live.telemetry.as_ref()?;
                let fresh = live
                    .telemetry_at
                    .is_some_and(|at| at.elapsed() < self.config.telemetry_stale_after);
                Some(Candidate {
                    drone_id: d.id.clone(),
                    position: Point::new(t.lon_deg, t.lat_deg),
                    battery_pct: t.battery_pct.unwrap_or(0.0),
                    ready: live.online
                        && !self.is_taken_over(&d.id)
                        && self.service_of(&d.id).state.assignable()
                        && fresh
                        && live.flight.is_none()
                        && !t.armed
                        && t.landed == LandedState::OnGround,
                    sensors: d.sensors.clone(),
                })
            })
            .collect()
    }

    /// One scheduling round: the whole queue is planned over the ready
    /// drones; sorties due now take off, and every other task's reason says
    /// when it should fly or what holds it.
    async fn schedule(&self) {
        if let Err(error) = self.schedule_round().await {
            tracing::error!(%error, "scheduling round failed");
        }
    }

    async fn schedule_round(&self) -> Result<(), StoreError> {
        let queued = self
            .store
            .tasks_in_state(TaskState::Queued.as_str())
            .await?;
        if queued.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let now_utc = Utc::now();
        let mut waiting = Vec::with_capacity(queued.len());
        let mut visits: HashMap<String, Planned> = HashMap::new();
        let mut priorities: HashMap<String, Priority> = HashMap::new();
        for task in &queued {
            let request = match serde_json::from_value::<TaskRequest>(task.request.clone()) {
                Ok(request) => request,
                Err(e) => {
                    let reason = format!("stored request is unreadable: {e}");
                    self.fail_task(&task.id, &reason).await?;
                    continue;
                }
            };
            let (site, service_s, visit, leg) = match request.work() {
                Work::Point(inspection) => (
                    inspection.target,
                    planning::inspection_time_s(&inspection, &self.config.airframe),
                    Visit::Inspect(inspection),
                    None,
                ),
                _ => {
                    let survey = match self.survey_plan(&request) {
                        Ok(survey) => survey,
                        Err(e) => {
                            let reason = format!("the survey cannot be planned: {e}");
                            self.fail_task(&task.id, &reason).await?;
                            continue;
                        }
                    };
                    let next = task.progress_seq.unwrap_or(0).max(0) as usize;
                    let Some(leg) = survey.legs.get(next) else {
                        self.store
                            .set_task_state(
                                &task.id,
                                TaskState::Completed.as_str(),
                                None,
                                None,
                                now,
                            )
                            .await?;
                        continue;
                    };
                    let Some(entry) = leg.entry() else { continue };
                    (
                        entry,
                        leg.length_m() / self.config.airframe.cruise_speed_mps,
                        Visit::Survey(leg.clone()),
                        Some((next, survey.legs.len())),
                    )
                }
            };
            let window_s = match window_from_now(&request, now_utc) {
                Ok(window) => window,
                Err(closed_at) => {
                    let reason = format!(
                        "its window closed at {} before a drone could fly it",
                        local_time(closed_at, self.config.region.utc_offset_hours)
                    );
                    self.fail_task(&task.id, &reason).await?;
                    continue;
                }
            };
            visits.insert(task.id.clone(), (visit, leg));
            priorities.insert(task.id.clone(), request.priority);
            waiting.push(Waiting {
                window_s,
                id: task.id.clone(),
                department: task.department_id.clone(),
                site,
                service_s,
                sensor: request.sensor.clone(),
                priority: request.priority,
                waited_s: (now - task.created_at_ms).max(0) as f64 / 1000.0,
            });
        }
        let candidates = self.candidates();
        let ready: Vec<Ready> = candidates
            .iter()
            .filter(|c| c.ready)
            .map(|c| Ready {
                id: c.drone_id.clone(),
                // Plan from where the drone actually stands.
                dock: c.position,
                sensors: c.sensors.clone(),
                battery_pct: c.battery_pct,
            })
            .collect();
        let airframe = self.config.airframe;
        let shares = self.weekly_shares().await?;
        let planned = {
            let (waiting, ready) = (waiting.clone(), ready.clone());
            tokio::task::spawn_blocking(move || {
                scheduling::plan_round(&waiting, &ready, &shares, &airframe, PLANNING_BUDGET)
            })
            .await
        };
        let round = match planned {
            Ok(round) => round,
            Err(error) => {
                // A planner bug must not take the dispatcher down with it:
                // flights in the air still need following.
                tracing::error!(%error, "the planner failed; nothing launched this round");
                return Ok(());
            }
        };
        for launch in &round.launches {
            self.launch(launch, &visits, &priorities, &candidates)
                .await?;
        }
        let sensors: HashMap<&str, &str> = waiting
            .iter()
            .map(|w| (w.id.as_str(), w.sensor.as_str()))
            .collect();
        let mut recalls: HashMap<String, String> = HashMap::new();
        for w in waiting.iter().filter(|w| w.priority == Priority::Emergency) {
            if matches!(round.forecasts.get(&w.id), Some(Forecast::Held(_))) {
                if let Some(drone) = self.recall_for(w).await? {
                    recalls.insert(w.id.clone(), drone);
                }
            }
        }
        for task in &queued {
            let Some(forecast) = round.forecasts.get(&task.id) else {
                continue;
            };
            let why = match forecast {
                _ if recalls.contains_key(&task.id) => format!(
                    "drone {} is being recalled from routine work to fly it",
                    recalls[&task.id]
                ),
                Forecast::Later {
                    drone,
                    take_off_in_s,
                } => format!(
                    "planned on drone {drone}, taking off in about {} min",
                    (take_off_in_s + 59) / 60
                ),
                Forecast::Held(why) => why.clone(),
            };
            // Held because nothing that could fly it is in service: say so,
            // rather than that the drones are busy.
            let why = match (forecast, sensors.get(task.id.as_str())) {
                (Forecast::Held(_), Some(sensor)) => {
                    let carriers: Vec<&DroneRecord> = self
                        .config
                        .drones
                        .iter()
                        .filter(|d| d.sensors.iter().any(|s| s == sensor))
                        .collect();
                    match self.all_out_of_service(&carriers) {
                        Some(note) if !carriers.is_empty() => format!(
                            "every drone carrying a {sensor} sensor is out of service: {note}"
                        ),
                        _ => why,
                    }
                }
                _ => why,
            };
            if task.reason.as_deref() != Some(why.as_str()) {
                self.store
                    .set_task_state(&task.id, TaskState::Queued.as_str(), Some(&why), None, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// The region as it stands now: its own zones and every restriction.
    pub fn region_now(&self) -> Region {
        let mut region = self.config.region.clone();
        region.zones.extend(self.imported_zones());
        region.zones.extend(
            self.restrictions
                .lock()
                .expect("restrictions")
                .iter()
                .cloned(),
        );
        region
    }

    fn zone_index(&self) -> Arc<ZoneIndex> {
        Arc::clone(&self.zones.lock().expect("zones"))
    }

    /// The temporary restrictions in force.
    pub fn restrictions(&self) -> Vec<Zone> {
        self.restrictions.lock().expect("restrictions").clone()
    }

    /// Adds temporary restrictions: stored, in force for every check from
    /// now on, and answered with the flights in the air whose planned volumes
    /// they meet (drone and 1-based legs), which their pilots must route
    /// around or bring down. Ids must be new.
    pub async fn add_restrictions(
        &self,
        zones: Vec<Zone>,
    ) -> Result<Vec<(String, Vec<usize>)>, RestrictionError> {
        // One change to the zones at a time: the ids checked below are
        // still free when stored (an import or a second request racing
        // this one waits).
        let _change = self.zone_changes.lock().await;
        let now_utc = Utc::now();
        for zone in &zones {
            if let Some(end) = zone.time.end.filter(|end| *end <= now_utc) {
                return Err(RestrictionError::Ended {
                    id: zone.id.clone(),
                    end,
                });
            }
        }
        {
            let region = self.region_now();
            for zone in &zones {
                if region.zones.iter().any(|z| z.id == zone.id)
                    || zones.iter().filter(|z| z.id == zone.id).count() > 1
                {
                    return Err(RestrictionError::DuplicateId(zone.id.clone()));
                }
            }
        }
        let now = now_ms();
        for zone in &zones {
            let text = airspace::import::geojson::export(std::slice::from_ref(zone)).to_string();
            self.store.insert_restriction(&zone.id, &text, now).await?;
        }
        self.restrictions
            .lock()
            .expect("restrictions")
            .extend(zones.iter().cloned());
        self.reindex();
        let index = self.zone_index();
        let intents: Vec<Intent> = self
            .intents
            .lock()
            .expect("intents")
            .values()
            .cloned()
            .collect();
        let mut affected: Vec<(String, Vec<usize>)> = Vec::new();
        for zone in &zones {
            for (drone, legs) in conformance::affected_by(zone, index.frame(), &intents) {
                tracing::warn!(
                    drone,
                    restriction = zone.id,
                    ?legs,
                    "a new restriction meets a flight in the air"
                );
                if zone.kind == ZoneKind::Prohibited {
                    self.call_back_for_restriction(&drone, zone, index.frame())
                        .await?;
                }
                affected.push((drone, legs));
            }
        }
        self.wake.notify_one();
        Ok(affected)
    }

    /// A flight whose planned volumes a new prohibited restriction meets is
    /// called home, and on landing its unfinished tasks go back to the
    /// queue, where the next round checks them against the airspace as it
    /// now is. Recorded like an emergency recall, with the restriction as
    /// the cause, so a restart keeps it.
    ///
    /// Home is a straight line for the autopilot. Where that line from
    /// outside the restriction would cross it, the drone holds where it is
    /// instead, and its pilot is alerted to bring it home round it: a
    /// recall must not fly into what it recalls from. (From inside, the
    /// way home is the way out.)
    async fn call_back_for_restriction(
        &self,
        drone: &str,
        restriction: &Zone,
        frame: &airspace::AirspaceFrame,
    ) -> Result<(), StoreError> {
        let cause = format!("{RESTRICTION_RECALL}{}", restriction.id);
        let (flight_id, position, home) = {
            let mut fleet = self.fleet.lock().expect("fleet");
            let Some(live) = fleet.get_mut(drone) else {
                return Ok(());
            };
            if live.recalled_for.is_some() || live.flight.is_none() {
                return Ok(());
            }
            live.recalled_for = Some(cause.clone());
            (
                live.flight.as_ref().map(|f| f.id.clone()),
                live.telemetry.as_ref().map(|t| (t.lon_deg, t.lat_deg)),
                live.planned_route
                    .as_ref()
                    .and_then(|(_, route)| route.first().copied()),
            )
        };
        if let Some(id) = flight_id.filter(|id| !id.is_empty()) {
            self.store.flight_recalled(&id, Some(&cause)).await?;
        }
        let blocked = match (position, home) {
            (Some(position), Some(home)) => {
                way_home_crosses(restriction, *frame, position, (home.x(), home.y()))
            }
            _ => false,
        };
        if blocked {
            tracing::warn!(
                drone,
                restriction = restriction.id,
                "the way home crosses a new restriction: holding for the pilot"
            );
            self.send(drone, Vec::new(), CommandBody::Pause, Purpose::Recall)
                .await;
            let condition = crate::alerts::Condition {
                kind: AlertKind::AirspaceConflict,
                key: format!("airspace_conflict:{}", restriction.id),
                message: format!(
                    "recalled by restriction {}, but the straight way home crosses it: holding where it is; bring it home round the restriction",
                    restriction.id
                ),
            };
            self.alerts.raise(drone, condition, Utc::now()).await;
            return Ok(());
        }
        tracing::warn!(
            drone,
            restriction = restriction.id,
            "calling a flight home from a new restriction"
        );
        self.send(
            drone,
            Vec::new(),
            CommandBody::ReturnToLaunch,
            Purpose::Recall,
        )
        .await;
        Ok(())
    }

    /// Lifts a temporary restriction; false if there was none by that id.
    pub async fn remove_restriction(&self, id: &str) -> Result<bool, StoreError> {
        let _change = self.zone_changes.lock().await;
        let stored = self.store.delete_restriction(id).await?;
        let mut restrictions = self.restrictions.lock().expect("restrictions");
        let before = restrictions.len();
        restrictions.retain(|z| z.id != id);
        let removed = restrictions.len() < before;
        drop(restrictions);
        if removed {
            self.reindex();
            self.wake.notify_one();
        }
        Ok(stored || removed)
    }

    fn reindex(&self) {
        let index = airspace::region_index(&self.region_now());
        *self.zones.lock().expect("zones") = Arc::new(index);
    }

    /// Restrictions stored by an earlier run come back into force.
    async fn load_restrictions(&self) -> Result<(), StoreError> {
        let rows = self.store.restrictions().await?;
        let (loaded, unreadable) =
            zones::read_stored(rows.iter().map(|(id, text)| (id.as_str(), text.as_str())));
        for (restriction, error) in unreadable {
            tracing::error!(restriction, %error, "a stored restriction no longer reads; it is not in force");
        }
        *self.restrictions.lock().expect("restrictions") = loaded;
        self.reindex();
        Ok(())
    }

    /// Conformance of an airborne drone's position with its sortie's planned
    /// volumes and the zones (`alerts::describe` words them). Pure checks, a
    /// few microseconds: run on every telemetry message.
    fn conformance(&self, drone: &str, t: &Telemetry) -> Vec<conformance::Alert> {
        if t.landed == LandedState::OnGround {
            return Vec::new();
        }
        let Some(intent) = self.intents.lock().expect("intents").get(drone).cloned() else {
            return Vec::new();
        };
        let position = conformance::Position {
            lon: t.lon_deg,
            lat: t.lat_deg,
            alt_agl_m: t.alt_rel_m,
            time: Utc::now(),
        };
        let config = conformance::ConformanceConfig {
            proximity_alert_m: ZONE_PROXIMITY_ALERT_M,
            authorisations: Vec::new(),
        };
        let zones = self.zone_index();
        conformance::assess(&intent, &zones, &position, &config)
    }

    /// The 4D volumes of a sortie flying `route` from now, one per leg: the
    /// dock at ground level, every other point at the sortie's highest
    /// working height (a conservative vertical extent).
    fn intent_for(&self, drone: &str, priority: i32, route: &[Point], highest_m: f64) -> Intent {
        let index = &*self.zone_index();
        let last = route.len().saturating_sub(1);
        let points: Vec<(f64, f64, f64)> = route
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.x(),
                    p.y(),
                    if i == 0 || i == last { 0.0 } else { highest_m },
                )
            })
            .collect();
        let timed = timed_route(
            index,
            &points,
            Utc::now(),
            self.config.airframe.cruise_speed_mps,
        );
        Intent {
            id: drone.to_owned(),
            priority,
            volumes: deconflict::route_volumes(&timed, index.frame(), &VolumeMargins::default()),
        }
    }

    /// Emergency work nothing ready can fly: send home the nearest drone
    /// carrying its sensor whose sortie holds no emergency, so the next
    /// rounds can give it the emergency once it has landed. Its unfinished
    /// tasks go back to the queue. Returns the drone recalled for `task`,
    /// now or in an earlier round.
    async fn recall_for(&self, task: &Waiting) -> Result<Option<String>, StoreError> {
        let flying: Vec<(String, Point, Vec<String>)> = {
            let fleet = self.fleet.lock().expect("fleet");
            if let Some((id, _)) = fleet
                .iter()
                .find(|(_, l)| l.recalled_for.as_deref() == Some(task.id.as_str()))
            {
                return Ok(Some(id.clone()));
            }
            self.config
                .drones
                .iter()
                .filter(|d| d.sensors.contains(&task.sensor))
                .filter_map(|d| {
                    let live = fleet.get(&d.id)?;
                    let flight = live.flight.as_ref()?;
                    let t = live.telemetry.as_ref()?;
                    let free = live.recalled_for.is_none()
                        && !self.is_taken_over(&d.id)
                        && self.service_of(&d.id).state != crate::fleet_service::ServiceState::Lost;
                    (live.online && free).then(|| {
                        (
                            d.id.clone(),
                            Point::new(t.lon_deg, t.lat_deg),
                            flight.task_ids(),
                        )
                    })
                })
                .collect()
        };
        let mut best: Option<(f64, String)> = None;
        'drones: for (drone, at, tasks) in flying {
            for id in &tasks {
                let emergency = self.store.task(id).await?.is_some_and(|row| {
                    serde_json::from_value::<TaskRequest>(row.request)
                        .is_ok_and(|r| r.priority == Priority::Emergency)
                });
                if emergency {
                    continue 'drones;
                }
            }
            use geo::{Distance, Haversine};
            let distance = Haversine.distance(at, task.site);
            if best.as_ref().is_none_or(|(d, _)| distance < *d) {
                best = Some((distance, drone));
            }
        }
        let Some((_, drone)) = best else {
            return Ok(None);
        };
        let flight_id = self
            .fleet
            .lock()
            .expect("fleet")
            .get_mut(&drone)
            .and_then(|live| {
                live.recalled_for = Some(task.id.clone());
                live.flight.as_ref().map(|f| f.id.clone())
            });
        if let Some(id) = flight_id.filter(|id| !id.is_empty()) {
            self.store.flight_recalled(&id, Some(&task.id)).await?;
        }
        tracing::warn!(
            drone,
            emergency = task.id,
            "recalling a drone for emergency work"
        );
        self.send(
            &drone,
            Vec::new(),
            CommandBody::ReturnToLaunch,
            Purpose::Recall,
        )
        .await;
        Ok(Some(drone))
    }

    /// Plan the sortie's mission, check it against the airspace, and send
    /// it. A sortie of several tasks whose route is refused falls back to
    /// its first task alone; a single task refused fails with the reason.
    async fn launch(
        &self,
        launch: &Launch,
        visits: &HashMap<String, Planned>,
        priorities: &HashMap<String, Priority>,
        candidates: &[Candidate],
    ) -> Result<(), StoreError> {
        let Some(candidate) = candidates.iter().find(|c| c.drone_id == launch.drone) else {
            return Ok(());
        };
        let origin = Dock {
            id: candidate.drone_id.clone(),
            name: candidate.drone_id.clone(),
            position: candidate.position,
            alt_msl_m: 0.0,
        };
        let mut chosen: Vec<(&String, &Visit, Option<Leg>)> = launch
            .tasks
            .iter()
            .filter_map(|id| visits.get(id).map(|(visit, leg)| (id, visit, *leg)))
            .collect();
        // A task cancelled since the round read the queue stays on the
        // ground.
        let mut still_queued = Vec::with_capacity(chosen.len());
        // Submission times of tasks not flown before (for the queue wait).
        let mut first_time: HashMap<String, i64> = HashMap::new();
        let mut departments: HashMap<String, String> = HashMap::new();
        for entry in chosen {
            let Some(task) = self.store.task(entry.0).await? else {
                continue;
            };
            if task.state == TaskState::Queued.as_str() {
                let retried = self
                    .attempts
                    .lock()
                    .expect("attempts")
                    .contains_key(&task.id);
                if task.progress_seq.unwrap_or(0) == 0 && !retried {
                    first_time.insert(task.id.clone(), task.created_at_ms);
                }
                departments.insert(task.id, task.department_id);
                still_queued.push(entry);
            }
        }
        chosen = still_queued;
        if chosen.is_empty() {
            return Ok(());
        }
        let zones = self.zone_index();
        let sortie = loop {
            let plan: Vec<Visit> = chosen
                .iter()
                .map(|(_, visit, _)| (*visit).clone())
                .collect();
            let sortie = planning::plan_sortie_in_wind(
                &origin,
                &plan,
                &self.config.airframe,
                &self.policy().wind,
            );
            let highest = plan.iter().map(Visit::alt_agl_m).fold(0.0, f64::max);
            let duration = chrono::Duration::seconds(sortie.flight.duration_s.ceil() as i64);
            match airspace::check_route_in(
                &zones,
                &sortie.flight.route,
                highest,
                Utc::now(),
                duration,
            ) {
                Ok(()) => break sortie,
                Err(refusal) if chosen.len() == 1 => {
                    let reason = format!("no safe route from drone {}: {refusal}", launch.drone);
                    return self.fail_task(chosen[0].0, &reason).await;
                }
                Err(refusal) => {
                    tracing::info!(drone = launch.drone, %refusal, "sortie refused; flying its first task alone");
                    chosen.truncate(1);
                }
            }
        };
        // Strategic deconfliction with the fleet's other flights (F3548):
        // a sortie that would share airspace and time with a flight of equal
        // or higher priority waits, and says for how long and why.
        let priority = chosen
            .iter()
            .filter_map(|(id, _, _)| priorities.get(*id))
            .map(|p| intent_priority(*p))
            .max()
            .unwrap_or(0);
        let highest = chosen
            .iter()
            .map(|(_, visit, _)| visit.alt_agl_m())
            .fold(0.0, f64::max);
        let intent = self.intent_for(&launch.drone, priority, &sortie.flight.route, highest);
        let others: Vec<Intent> = self
            .intents
            .lock()
            .expect("intents")
            .iter()
            .filter(|(drone, _)| **drone != launch.drone)
            .map(|(_, intent)| intent.clone())
            .collect();
        let preempted = match deconflict::decide(
            &intent,
            &others,
            EqualPriority::MayNotConflict,
            chrono::Duration::seconds(30),
            chrono::Duration::minutes(30),
        ) {
            deconflict::Decision::Accepted { preempts } => {
                if !preempts.is_empty() {
                    tracing::warn!(drone = launch.drone, ?preempts, "sortie takes priority over flights that now share its airspace; their pilots must give way");
                }
                preempts
            }
            deconflict::Decision::Retimed { delay, .. } => {
                let blocking = others
                    .iter()
                    .find(|o| {
                        o.volumes
                            .iter()
                            .any(|w| intent.volumes.iter().any(|v| v.intersects(w)))
                    })
                    .map_or_else(
                        || "another flight".to_string(),
                        |o| format!("drone {}'s flight", o.id),
                    );
                let reason = format!(
                    "held about {} min to keep clear of {blocking}",
                    (delay.num_seconds() + 59) / 60
                );
                for (id, _, _) in &chosen {
                    self.store
                        .set_task_state(
                            id,
                            TaskState::Queued.as_str(),
                            Some(&reason),
                            None,
                            now_ms(),
                        )
                        .await?;
                }
                return Ok(());
            }
            deconflict::Decision::Refused { conflicts } => {
                let reason = format!(
                    "its flight would share airspace with {} for the next 30 min; waiting",
                    conflicts
                        .iter()
                        .map(|c| format!("drone {}'s flight (leg {})", c.other_id, c.other_leg))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for (id, _, _) in &chosen {
                    self.store
                        .set_task_state(
                            id,
                            TaskState::Queued.as_str(),
                            Some(&reason),
                            None,
                            now_ms(),
                        )
                        .await?;
                }
                return Ok(());
            }
        };
        let needed = sortie.flight.battery_needed_pct(&self.config.airframe);
        if needed > candidate.battery_pct {
            tracing::warn!(
                drone = launch.drone,
                needed,
                have = candidate.battery_pct,
                "planner's sortie needs more battery than the drone has; not launched"
            );
            return Ok(());
        }
        let flight = Flight {
            id: uuid::Uuid::new_v4().to_string(),
            tasks: chosen
                .iter()
                .zip(&sortie.items_of)
                .map(|((id, _, leg), items)| FlightTask {
                    id: (*id).clone(),
                    items: Some(*items),
                    leg: *leg,
                    finished: false,
                })
                .collect(),
            last_reached: None,
        };
        let task_ids = flight.task_ids();
        // Stored before the mission goes out: a restart from here on knows
        // which items are whose.
        let owners: Vec<String> = task_ids
            .iter()
            .map(|id| departments.get(id).cloned().unwrap_or_default())
            .collect();
        let mut row = flight.to_row(&launch.drone, &owners, now_ms());
        // Kept with the flight so the console still draws it after a restart.
        row.route = sortie.flight.route.iter().map(|p| [p.x(), p.y()]).collect();
        self.store.insert_flight(&row).await?;
        if let Some(live) = self.fleet.lock().expect("fleet").get_mut(&launch.drone) {
            live.planned_route = Some((flight.id.clone(), sortie.flight.route.clone()));
            live.flight = Some(flight);
            live.mission_completed = false;
            live.following_since = Some(Instant::now());
        }
        self.intents
            .lock()
            .expect("intents")
            .insert(launch.drone.clone(), intent);
        // F3548: the lower-priority operations are told, here their pilots,
        // each by an alert on their own drone, once this flight is sure to
        // go; it clears when this flight ends (`Landed`, `abort_flight`).
        for other in &preempted {
            let condition = crate::alerts::Condition {
                kind: AlertKind::AirspaceConflict,
                key: give_way_key(&launch.drone),
                message: format!(
                    "drone {}'s flight of higher priority now shares this flight's airspace: give way (hold, divert or land)",
                    launch.drone
                ),
            };
            self.alerts.raise(other, condition, Utc::now()).await;
        }
        let now = now_ms();
        for id in &task_ids {
            if let Some(created) = first_time.get(id) {
                let waited = Duration::from_millis((now - created).max(0) as u64);
                self.instruments.queue_wait(waited);
            }
            self.store
                .set_task_state(
                    id,
                    TaskState::Assigned.as_str(),
                    None,
                    Some(&launch.drone),
                    now,
                )
                .await?;
        }
        tracing::info!(
            drone = launch.drone,
            tasks = ?task_ids,
            distance_m = sortie.flight.distance_m,
            energy_pct = sortie.flight.energy_pct,
            "sortie assigned"
        );
        self.send(
            &launch.drone,
            task_ids,
            CommandBody::UploadMission(sortie.flight.mission),
            Purpose::Upload,
        )
        .await;
        Ok(())
    }
}

impl Dispatcher {
    /// `drone`'s flight is over: no pilot need give way to it any more.
    async fn end_give_way(&self, drone: &str) {
        self.alerts
            .clear_key_everywhere(&give_way_key(drone), Utc::now())
            .await;
    }
}

/// The alert key that asks a pilot to give way to `drone`'s flight.
fn give_way_key(drone: &str) -> String {
    format!("airspace_conflict:priority:{drone}")
}

/// Whether the straight way from `position` (lon, lat) to `home` (lon,
/// lat) enters `zone`'s footprint from outside it. Judged on the footprint
/// alone, at every height and time: the autopilot's return climbs to its
/// own return height first (which the dispatcher does not know), and a
/// restriction starting in a minute is in force by the time a return
/// flight gets there. Over-cautious holds only ask the pilot; an
/// over-confident return flies into the zone.
fn way_home_crosses(
    zone: &Zone,
    frame: airspace::AirspaceFrame,
    position: (f64, f64),
    home: (f64, f64),
) -> bool {
    let footprint = Zone {
        band: airspace::Band::surface_up(),
        time: airspace::Applicability::permanent(),
        ..zone.clone()
    };
    let index = ZoneIndex::build(vec![footprint], frame);
    let now = Utc::now();
    let at = |(lon, lat): (f64, f64)| airspace::Waypoint {
        lon,
        lat,
        alt_agl_m: 0.0,
        time: now,
    };
    let inside = airspace::CheckOptions {
        lateral_buffer_m: 0.0,
        vertical_margin_m: 0.0,
        authorisations: Vec::new(),
    };
    if !index
        .check_route(&[at(position), at(position)], &inside)
        .is_empty()
    {
        // Inside already: home is the way out it knows.
        return false;
    }
    !index
        .check_route(
            &[at(position), at(home)],
            &airspace::CheckOptions::default(),
        )
        .is_empty()
}

#[derive(Debug, thiserror::Error)]
pub enum RestrictionError {
    #[error("a zone or restriction `{0}` already exists; choose another id")]
    DuplicateId(String),
    #[error("restriction `{id}` ended at {end}, before now: nothing to put in force")]
    Ended {
        id: String,
        end: chrono::DateTime<Utc>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{message}")]
    Refused {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Drives rumqttc's event loop, (re)subscribes on every connection, and
/// forwards publishes to the actor.
async fn pump_mqtt(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    tx: mpsc::Sender<(String, Vec<u8>)>,
    shutdown: CancellationToken,
) {
    loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            polled = eventloop.poll() => polled,
        };
        match polled {
            Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                tracing::info!("dispatcher connected to the MQTT broker");
                for channel in [
                    Channel::Status,
                    Channel::Telemetry,
                    Channel::Events,
                    Channel::Replies,
                ] {
                    let qos = if channel == Channel::Telemetry {
                        QoS::AtMostOnce
                    } else {
                        QoS::AtLeastOnce
                    };
                    if let Err(error) = client.try_subscribe(Topic::filter_all_drones(channel), qos)
                    {
                        tracing::error!(%error, "could not subscribe");
                    }
                }
            }
            Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                if tx.send((p.topic, p.payload.to_vec())).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "MQTT connection lost; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

/// Why a pilot command could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum PilotCommandError {
    #[error("no drone `{0}` in this fleet")]
    UnknownDrone(String),
    #[error("MQTT URL `{0}` is not of the form mqtt://host:port")]
    MqttUrl(String),
    #[error("the MQTT broker did not take the command: {0}")]
    Broker(String),
}

/// A pilot command on its way: its id, and the bridge's terminal reply
/// (None when no terminal reply came within the command reply limit).
pub struct PilotCommandSent {
    pub command_id: String,
    pub outcome: tokio::sync::oneshot::Receiver<Option<CommandReply>>,
}

impl Dispatcher {
    /// Publishes a pilot command (pause, resume, return, land, ...) to one
    /// drone. Its replies are read on a connection of its own, subscribed
    /// before the command goes out, because the dispatcher's reply handler
    /// only follows the commands it sent itself.
    pub async fn pilot_command(
        &self,
        drone: &str,
        body: CommandBody,
    ) -> Result<PilotCommandSent, PilotCommandError> {
        if !self.config.drones.iter().any(|d| d.id == drone) {
            return Err(PilotCommandError::UnknownDrone(drone.to_owned()));
        }
        let (host, port) = parse_mqtt_url(&self.config.mqtt_url)
            .ok_or_else(|| PilotCommandError::MqttUrl(self.config.mqtt_url.clone()))?;
        let command = Command {
            v: wire::VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            ts_ms: now_ms(),
            body,
        };
        let mut options = MqttOptions::new(
            format!("skyshare-pilot-{}", uuid::Uuid::new_v4().simple()),
            host,
            port,
        );
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        let broker = |e: &dyn std::fmt::Display| PilotCommandError::Broker(e.to_string());
        client
            .subscribe(Topic::new(drone, Channel::Replies).name(), QoS::AtLeastOnce)
            .await
            .map_err(|e| broker(&e))?;
        let subscribed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match eventloop.poll().await {
                    Ok(MqttEvent::Incoming(Packet::SubAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(broker(&e)),
                }
            }
        })
        .await
        .map_err(|_| PilotCommandError::Broker("no SUBACK within 5 s".into()))?;
        subscribed?;
        client
            .publish(
                Topic::new(drone, Channel::Commands).name(),
                QoS::AtLeastOnce,
                false,
                wire::encode(&command),
            )
            .await
            .map_err(|e| broker(&e))?;
        tracing::info!(drone, command = command.body.name(), id = %command.id, "pilot command sent");
        let (tx, outcome) = tokio::sync::oneshot::channel();
        let id = command.id.clone();
        let limit = self.config.command_reply_limit;
        let (instruments, sent_at) = (Arc::clone(&self.instruments), Instant::now());
        tokio::spawn(async move {
            let reply = tokio::time::timeout(limit, async {
                loop {
                    match eventloop.poll().await {
                        Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                            if let Ok(reply) = wire::decode::<CommandReply>(&p.payload) {
                                if reply.request_id == id && reply.state.is_terminal() {
                                    return Some(reply);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "pilot command connection lost");
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                    }
                }
            })
            .await
            .ok()
            .flatten();
            instruments.command_answered(
                CommandOrigin::Pilot,
                reply.as_ref().map(|_| sent_at.elapsed()),
            );
            let _ = tx.send(reply);
            let _ = client.try_disconnect();
            // Let the DISCONNECT go out; the loop ends with an error then.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while eventloop.poll().await.is_ok() {}
            })
            .await;
        });
        Ok(PilotCommandSent {
            command_id: command.id,
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airspace::{AltitudeReference, Applicability, Band, ZoneShape};

    /// A prohibited box over 114.402-114.404 E, 30.500-30.502 N, to 120 m.
    fn restriction() -> Zone {
        Zone {
            id: "R".into(),
            name: "R".into(),
            reason: String::new(),
            kind: ZoneKind::Prohibited,
            shape: ZoneShape::Polygon {
                exterior: vec![
                    (114.402, 30.500),
                    (114.404, 30.500),
                    (114.404, 30.502),
                    (114.402, 30.502),
                ],
                holes: vec![],
            },
            band: Band::new(0.0, 120.0, AltitudeReference::Agl).unwrap(),
            time: Applicability::permanent(),
        }
    }

    #[test]
    fn a_recall_holds_where_the_straight_way_home_crosses_the_restriction() {
        let frame = airspace::AirspaceFrame::new(114.40, 30.50, 8);
        let home = (114.400, 30.501);
        // East of the box, home to the west: the way home runs through it.
        assert!(way_home_crosses(
            &restriction(),
            frame,
            (114.406, 30.501),
            home
        ));
        // North of it: the way home passes clear.
        assert!(!way_home_crosses(
            &restriction(),
            frame,
            (114.406, 30.510),
            home
        ));
        // Inside it: the way home is the way out.
        assert!(!way_home_crosses(
            &restriction(),
            frame,
            (114.403, 30.501),
            home
        ));
        // A restriction that starts later, or ends below the height flown,
        // still stands in the way: the return gets there later, after
        // climbing to a height the dispatcher does not know.
        let mut later = restriction();
        later.band = Band::new(0.0, 30.0, AltitudeReference::Agl).unwrap();
        let now = Utc::now();
        later.time = Applicability::between(
            now + chrono::Duration::minutes(2),
            now + chrono::Duration::hours(1),
        );
        assert!(way_home_crosses(&later, frame, (114.406, 30.501), home));
    }
}
