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
use crate::dispatch::{self, Candidate, Choice};
use crate::planning::{self, Airframe, FlightPlan};
use crate::region::{Dock, Region};
use crate::store::{ImageRow, Store, StoreError, TaskRow};
use crate::task::{TaskRequest, TaskState};

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
}

/// What the API shows of one drone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DroneView {
    pub id: String,
    pub dock_id: String,
    pub sensors: Vec<String>,
    pub online: bool,
    pub telemetry: Option<Telemetry>,
    pub task_id: Option<String>,
    pub seconds_since_telemetry: Option<f64>,
}

#[derive(Debug, Default)]
struct DroneLive {
    online: bool,
    telemetry: Option<Telemetry>,
    telemetry_at: Option<Instant>,
    task_id: Option<String>,
    mission_completed: bool,
}

/// What a command in flight was sent for.
#[derive(Debug, Clone)]
enum Purpose {
    Upload,
    Start,
}

#[derive(Debug, Clone)]
struct Pending {
    task_id: String,
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
}

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
        let client_id = format!("skyshare-dispatcher-{}", uuid::Uuid::new_v4().simple());
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (mqtt, eventloop) = AsyncClient::new(options, 1_000);
        let fleet = config
            .drones
            .iter()
            .map(|d| (d.id.clone(), DroneLive::default()))
            .collect();
        Ok(Arc::new(Dispatcher {
            store,
            config,
            fleet: Mutex::new(fleet),
            pending: Mutex::new(HashMap::new()),
            mqtt,
            wake: Notify::new(),
            eventloop: Mutex::new(Some(eventloop)),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
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
        let carried = self
            .config
            .drones
            .iter()
            .any(|d| d.sensors.contains(&request.sensor));
        if !carried {
            return Err(SubmitError::Refused {
                field: "sensor",
                message: format!("no drone in the fleet carries a {} sensor", request.sensor),
            });
        }
        let target = request.target();
        airspace::check_point(&self.config.region, target, request.alt_m, Utc::now()).map_err(
            |r| SubmitError::Refused {
                field: "geometry",
                message: r.to_string(),
            },
        )?;
        // Even a full battery from the nearest dock must be enough.
        let nearest = self.nearest_dock(target);
        let plan =
            planning::plan_point_inspection(nearest, &request.inspection(), &self.config.airframe);
        if plan.battery_needed_pct(&self.config.airframe) > 100.0 {
            return Err(SubmitError::Refused {
                field: "geometry",
                message: format!(
                    "the point is too far: from the nearest dock `{}` the flight needs {:.0}% of a battery plus the {:.0}% reserve",
                    nearest.id, plan.energy_pct, self.config.airframe.reserve_pct
                ),
            });
        }
        let now = now_ms();
        let task = TaskRow {
            id: uuid::Uuid::new_v4().to_string(),
            department_id: department_id.to_owned(),
            kind: "point_inspection".into(),
            request: serde_json::to_value(&request).expect("request serialises"),
            state: TaskState::Queued.as_str().into(),
            reason: Some("waiting for the scheduler".into()),
            drone_id: None,
            created_at_ms: now,
            updated_at_ms: now,
            progress_seq: None,
            progress_total: None,
        };
        self.store.insert_task(&task).await?;
        tracing::info!(task = %task.id, department = department_id, "task queued");
        self.wake.notify_one();
        Ok(task)
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
                    task_id: live.and_then(|l| l.task_id.clone()),
                    seconds_since_telemetry: live
                        .and_then(|l| l.telemetry_at)
                        .map(|t| t.elapsed().as_secs_f64()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Runs until `shutdown`: MQTT ingest, scheduling and flight follow-up.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> Result<(), DispatcherError> {
        self.resume_after_restart().await?;
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
        for task in self
            .store
            .tasks_in_state(TaskState::InFlight.as_str())
            .await?
        {
            if let Some(drone) = &task.drone_id {
                self.fleet
                    .lock()
                    .expect("fleet")
                    .entry(drone.clone())
                    .or_default()
                    .task_id = Some(task.id.clone());
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
            Channel::Status => wire::decode::<wire::Status>(payload).map(|s| {
                let mut fleet = self.fleet.lock().expect("fleet");
                let live = fleet.entry(drone.clone()).or_default();
                live.online = s.state == Availability::Online;
                tracing::info!(drone, online = live.online, "drone status");
            }),
            Channel::Telemetry => wire::decode::<Telemetry>(payload).map(|t| {
                let mut fleet = self.fleet.lock().expect("fleet");
                let live = fleet.entry(drone.clone()).or_default();
                live.online = true;
                live.telemetry = Some(t);
                live.telemetry_at = Some(Instant::now());
            }),
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
        let task_id = self
            .fleet
            .lock()
            .expect("fleet")
            .get(drone)
            .and_then(|l| l.task_id.clone());
        let now = now_ms();
        match event.body {
            EventBody::MissionItemReached { seq, total } => {
                if let Some(task) = &task_id {
                    self.store
                        .set_task_progress(task, i64::from(seq) + 1, i64::from(total), now)
                        .await?;
                }
            }
            EventBody::MissionCompleted { .. } => {
                if let Some(live) = self.fleet.lock().expect("fleet").get_mut(drone) {
                    live.mission_completed = true;
                }
            }
            EventBody::ImageCaptured(image) => {
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
                let (task, completed) = {
                    let mut fleet = self.fleet.lock().expect("fleet");
                    let live = fleet.entry(drone.to_owned()).or_default();
                    let done = (live.task_id.take(), live.mission_completed);
                    live.mission_completed = false;
                    done
                };
                if let Some(task) = task {
                    // After a dispatcher restart the in-memory flag is gone;
                    // the stored progress says whether every item was reached.
                    let completed = completed
                        || self.store.task(&task).await?.is_some_and(|t| {
                            t.progress_total.is_some() && t.progress_seq >= t.progress_total
                        });
                    if completed {
                        self.store
                            .set_task_state(&task, TaskState::Completed.as_str(), None, None, now)
                            .await?;
                        tracing::info!(drone, task, "task completed");
                    } else {
                        self.fail_task(&task, "the drone landed before finishing its mission")
                            .await?;
                    }
                }
                self.wake.notify_one();
            }
            EventBody::AutopilotLinkLost => tracing::warn!(drone, "bridge lost its autopilot"),
            EventBody::StatusText { severity, text } => {
                tracing::info!(drone, severity, text, "autopilot says")
            }
            EventBody::Failsafe { reason, mode } => {
                tracing::warn!(drone, reason, ?mode, "autopilot failsafe")
            }
            EventBody::FenceBreached { breach, .. } => {
                tracing::warn!(drone, breach, "geofence breached")
            }
            EventBody::ModeChanged { .. }
            | EventBody::ArmedChanged { .. }
            | EventBody::AutopilotLinkRegained
            | EventBody::FenceCleared => {}
        }
        Ok(())
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
        let now = now_ms();
        match (reply.state, pending.purpose) {
            (CommandState::Succeeded, Purpose::Upload) => {
                self.send(
                    &pending.drone_id,
                    &pending.task_id,
                    CommandBody::StartMission,
                    Purpose::Start,
                )
                .await;
            }
            (CommandState::Succeeded, Purpose::Start) => {
                self.store
                    .set_task_state(
                        &pending.task_id,
                        TaskState::InFlight.as_str(),
                        None,
                        None,
                        now,
                    )
                    .await?;
                tracing::info!(
                    drone = pending.drone_id,
                    task = pending.task_id,
                    "flight started"
                );
            }
            (state, purpose) => {
                let step = match purpose {
                    Purpose::Upload => "take the mission",
                    Purpose::Start => "start the mission",
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
                if let Some(live) = self.fleet.lock().expect("fleet").get_mut(&pending.drone_id) {
                    live.task_id = None;
                }
                self.fail_task(&pending.task_id, &reason).await?;
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
            let reason = format!(
                "drone {} did not answer command {id} within {}s; its bridge or the broker may be down",
                p.drone_id,
                self.config.command_reply_limit.as_secs()
            );
            if let Some(live) = self.fleet.lock().expect("fleet").get_mut(&p.drone_id) {
                live.task_id = None;
            }
            if let Err(error) = self.fail_task(&p.task_id, &reason).await {
                tracing::error!(%error, "could not record a command timeout");
            }
        }
    }

    async fn send(&self, drone: &str, task_id: &str, body: CommandBody, purpose: Purpose) {
        let command = Command {
            v: wire::VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            ts_ms: now_ms(),
            body,
        };
        self.pending.lock().expect("pending").insert(
            command.id.clone(),
            Pending {
                task_id: task_id.to_owned(),
                drone_id: drone.to_owned(),
                purpose,
                sent_at: Instant::now(),
            },
        );
        let topic = Topic::new(drone, Channel::Commands).name();
        tracing::info!(drone, task = task_id, command = command.body.name(), id = %command.id, "sending command");
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
                        && fresh
                        && live.task_id.is_none()
                        && !t.armed
                        && t.landed == LandedState::OnGround,
                    sensors: d.sensors.clone(),
                })
            })
            .collect()
    }

    /// One scheduling round: every queued task, oldest first, gets the best
    /// ready drone or an explanation of what holds it.
    async fn schedule(&self) {
        let queued = match self.store.tasks_in_state(TaskState::Queued.as_str()).await {
            Ok(q) => q,
            Err(error) => {
                tracing::error!(%error, "cannot read the queue");
                return;
            }
        };
        for task in queued {
            if let Err(error) = self.schedule_one(&task).await {
                tracing::error!(task = task.id, %error, "scheduling failed");
            }
        }
    }

    async fn schedule_one(&self, task: &TaskRow) -> Result<(), StoreError> {
        let now = now_ms();
        let request: TaskRequest = match serde_json::from_value(task.request.clone()) {
            Ok(r) => r,
            Err(e) => {
                let reason = format!("stored request is unreadable: {e}");
                return self.fail_task(&task.id, &reason).await;
            }
        };
        let inspection = request.inspection();
        let airframe = self.config.airframe;
        let plan_from = |c: &Candidate| -> FlightPlan {
            let origin = Dock {
                id: c.drone_id.clone(),
                name: c.drone_id.clone(),
                position: c.position,
                alt_msl_m: 0.0,
            };
            planning::plan_point_inspection(&origin, &inspection, &airframe)
        };
        let candidates = self.candidates();
        let choice = dispatch::choose_drone(&candidates, inspection.target, &request.sensor, |c| {
            plan_from(c).battery_needed_pct(&airframe)
        });
        let drone = match choice {
            Choice::Drone(d) => d,
            Choice::Wait(why) => {
                if task.reason.as_deref() != Some(why.as_str()) {
                    self.store
                        .set_task_state(&task.id, TaskState::Queued.as_str(), Some(&why), None, now)
                        .await?;
                }
                return Ok(());
            }
        };
        let candidate = candidates
            .iter()
            .find(|c| c.drone_id == drone)
            .expect("chosen from candidates");
        let plan = plan_from(candidate);
        let duration = chrono::Duration::seconds(plan.duration_s.ceil() as i64);
        if let Err(refusal) = airspace::check_route(
            &self.config.region,
            &plan.route,
            request.alt_m,
            Utc::now(),
            duration,
        ) {
            let reason = format!("no safe route from drone {drone}: {refusal}");
            return self.fail_task(&task.id, &reason).await;
        }
        if let Some(live) = self.fleet.lock().expect("fleet").get_mut(&drone) {
            live.task_id = Some(task.id.clone());
            live.mission_completed = false;
        }
        self.store
            .set_task_state(
                &task.id,
                TaskState::Assigned.as_str(),
                None,
                Some(&drone),
                now,
            )
            .await?;
        tracing::info!(
            task = task.id,
            drone,
            distance_m = plan.distance_m,
            energy_pct = plan.energy_pct,
            "task assigned"
        );
        self.send(
            &drone,
            &task.id,
            CommandBody::UploadMission(plan.mission),
            Purpose::Upload,
        )
        .await;
        Ok(())
    }
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
