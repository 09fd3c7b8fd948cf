//! The dispatcher's side of drones out of service (maintenance, lost), of
//! lost-link detection, of stored flights' ends, and of the weekly flight
//! time accounting. The rules are pure ([`crate::fleet_service`],
//! [`crate::routing::fair_share`]); this is where they meet the store and
//! the live fleet.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::fleet_service::{self, LinkAges, Service, ServiceState};
use crate::routing::fair_share::{self, Flown, Share};
use crate::store::{AuditEntry, DroneServiceRow, StoreError, FLIGHT_ABORTED, FLIGHT_LOST};
use crate::task::TaskState;

use super::{now_ms, DispatchPolicy, Dispatcher, DroneRecord};

/// The accounting period for departments' shares of flight time.
pub const SHARE_PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);
/// Weekly usage is read from the store at most this often.
const ACCOUNTING_REFRESH: Duration = Duration::from_secs(5);

/// One drone as the fleet administration sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DroneAdminView {
    pub id: String,
    pub dock_id: String,
    pub payloads: Vec<String>,
    /// `in_service`, `maintenance` or `lost`.
    pub service: &'static str,
    pub service_reason: Option<String>,
    pub online: bool,
    /// Out on a sortie now.
    pub flying: bool,
    pub task_ids: Vec<String>,
    pub battery_pct: Option<f64>,
    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
}

/// Why a service change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no drone `{0}` in this fleet")]
    UnknownDrone(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a service change did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceChange {
    pub drone: DroneAdminView,
    /// Tasks sent back to the queue (a drone declared lost mid-flight).
    pub requeued: Vec<String>,
}

impl Dispatcher {
    pub fn policy(&self) -> DispatchPolicy {
        *self.policy.lock().expect("policy")
    }

    /// Sets the wind and lost-link threshold; call before `run`.
    pub fn set_policy(&self, policy: DispatchPolicy) {
        *self.policy.lock().expect("policy") = policy;
    }

    pub(super) fn service_of(&self, drone: &str) -> Service {
        self.service
            .lock()
            .expect("service")
            .get(drone)
            .cloned()
            .unwrap_or_default()
    }

    /// When every drone of `carriers` is out of service, says which and
    /// why; None when at least one is in service.
    pub(super) fn all_out_of_service(&self, carriers: &[&DroneRecord]) -> Option<String> {
        let service = self.service.lock().expect("service");
        let mut why = Vec::new();
        for drone in carriers {
            match service.get(&drone.id) {
                Some(s) if !s.state.assignable() => why.push(format!(
                    "{} {}{}",
                    drone.id,
                    if s.state == ServiceState::Lost {
                        "lost"
                    } else {
                        "in maintenance"
                    },
                    s.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )),
                _ => return None,
            }
        }
        Some(why.join(", "))
    }

    /// Service states stored by an earlier run.
    pub(super) async fn load_service(&self) -> Result<(), StoreError> {
        let mut loaded = HashMap::new();
        for row in self.store.drone_services().await? {
            match ServiceState::parse(&row.state) {
                Some(state) => {
                    loaded.insert(
                        row.drone_id,
                        Service {
                            state,
                            reason: row.reason,
                        },
                    );
                }
                None => tracing::error!(
                    drone = row.drone_id,
                    state = row.state,
                    "stored service state not understood; the drone is kept out of service"
                ),
            }
        }
        *self.service.lock().expect("service") = loaded;
        Ok(())
    }

    pub fn drone_admin_views(&self) -> Vec<DroneAdminView> {
        let views = self.fleet_view();
        let flying: HashMap<String, bool> = {
            let fleet = self.fleet.lock().expect("fleet");
            fleet
                .iter()
                .map(|(id, live)| (id.clone(), live.flying))
                .collect()
        };
        views
            .into_iter()
            .map(|v| {
                let service = self.service_of(&v.id);
                DroneAdminView {
                    flying: flying.get(&v.id).copied().unwrap_or(false),
                    dock_id: v.dock_id,
                    payloads: v.sensors,
                    service: service.state.as_str(),
                    service_reason: service.reason,
                    online: v.online,
                    task_ids: v.task_ids,
                    battery_pct: v.telemetry.as_ref().and_then(|t| t.battery_pct),
                    lat_deg: v.telemetry.as_ref().map(|t| t.lat_deg),
                    lon_deg: v.telemetry.as_ref().map(|t| t.lon_deg),
                    id: v.id,
                }
            })
            .collect()
    }

    /// Puts a drone in or out of service, stored and audited as done by
    /// `actor` (with `role`). A drone declared lost has whatever it was
    /// flying sent back to the queue; one put in maintenance finishes the
    /// flight it is on and gets no new work.
    pub async fn set_service(
        &self,
        drone: &str,
        state: ServiceState,
        reason: Option<String>,
        actor: (&str, &str),
    ) -> Result<ServiceChange, ServiceError> {
        if !self.config.drones.iter().any(|d| d.id == drone) {
            return Err(ServiceError::UnknownDrone(drone.to_owned()));
        }
        let now = now_ms();
        self.store
            .set_drone_service(&DroneServiceRow {
                drone_id: drone.to_owned(),
                state: state.as_str().to_owned(),
                reason: reason.clone(),
                changed_at_ms: now,
                changed_by: actor.0.to_owned(),
            })
            .await?;
        self.service.lock().expect("service").insert(
            drone.to_owned(),
            Service {
                state,
                reason: reason.clone(),
            },
        );
        let requeued = if state == ServiceState::Lost {
            let why = reason.as_deref().unwrap_or("declared lost");
            self.requeue_lost_flight(drone, why).await?
        } else {
            Vec::new()
        };
        self.store
            .append_audit(&AuditEntry {
                at_ms: now,
                actor: actor.0.to_owned(),
                role: actor.1.to_owned(),
                action: "drone_service".into(),
                target: drone.to_owned(),
                detail: serde_json::json!({"state": state.as_str(), "reason": reason, "requeued": requeued}),
                result: "ok".into(),
            })
            .await?;
        tracing::warn!(
            drone,
            state = state.as_str(),
            ?reason,
            ?requeued,
            by = actor.0,
            "drone service changed"
        );
        self.wake.notify_one();
        let view = self
            .drone_admin_views()
            .into_iter()
            .find(|v| v.id == drone)
            .ok_or_else(|| ServiceError::UnknownDrone(drone.to_owned()))?;
        Ok(ServiceChange {
            drone: view,
            requeued,
        })
    }

    /// The lost drone's sortie ends here: stored as lost, its unfinished
    /// tasks back in the queue (a survey at the leg it was flying), the
    /// finished ones left as they are. Whatever the drone sends later is
    /// credited to nothing, so no task is done twice.
    async fn requeue_lost_flight(&self, drone: &str, why: &str) -> Result<Vec<String>, StoreError> {
        let flight = {
            let mut fleet = self.fleet.lock().expect("fleet");
            let Some(live) = fleet.get_mut(drone) else {
                return Ok(Vec::new());
            };
            live.recalled_for = None;
            live.mission_completed = false;
            live.flying = false;
            live.following_since = None;
            live.flight.take()
        };
        self.intents.lock().expect("intents").remove(drone);
        self.pending
            .lock()
            .expect("pending")
            .retain(|_, p| p.drone_id != drone);
        let Some(flight) = flight else {
            return Ok(Vec::new());
        };
        let now = now_ms();
        if !flight.id.is_empty() {
            self.store.end_flight(&flight.id, FLIGHT_LOST, now).await?;
        }
        let mut requeued = Vec::new();
        for task in flight.tasks.iter().filter(|t| !t.finished) {
            let open = self.store.task(&task.id).await?.is_some_and(|t| {
                t.state == TaskState::InFlight.as_str() || t.state == TaskState::Assigned.as_str()
            });
            if !open {
                continue;
            }
            let reason = format!("drone {drone} was lost ({why}); re-queued for another drone");
            self.store
                .set_task_state(
                    &task.id,
                    TaskState::Queued.as_str(),
                    Some(&reason),
                    None,
                    now,
                )
                .await?;
            requeued.push(task.id.clone());
        }
        Ok(requeued)
    }

    /// Declares lost every drone out on a flight whose link has been gone
    /// longer than the policy allows.
    pub(super) async fn detect_lost_drones(&self) {
        let threshold = self.policy().lost_after;
        let lost: Vec<(String, Duration)> = {
            let fleet = self.fleet.lock().expect("fleet");
            let now = Instant::now();
            fleet
                .iter()
                .filter(|(_, live)| live.flying && live.flight.is_some())
                .filter_map(|(id, live)| {
                    let ages = LinkAges {
                        telemetry: live.telemetry_at.map(|t| now.duration_since(t)),
                        offline: live.offline_since.map(|t| now.duration_since(t)),
                        following: live
                            .following_since
                            .map_or(Duration::ZERO, |t| now.duration_since(t)),
                    };
                    fleet_service::lost_for(ages, threshold).map(|gone| (id.clone(), gone))
                })
                .collect()
        };
        for (drone, gone) in lost {
            let reason = format!("no link for {} s while in flight", gone.as_secs());
            if let Err(error) = self
                .set_service(
                    &drone,
                    ServiceState::Lost,
                    Some(reason),
                    ("dispatcher", "system"),
                )
                .await
            {
                tracing::error!(drone, %error, "could not declare a drone lost");
            }
        }
    }

    /// The drone's sortie has taken off; its stored flight id, if any.
    pub(super) fn mark_flying(&self, drone: &str) -> Option<String> {
        self.fleet
            .lock()
            .expect("fleet")
            .get_mut(drone)
            .and_then(|live| {
                live.flying = live.flight.is_some();
                live.flight.as_ref().map(|f| f.id.clone())
            })
            .filter(|id| !id.is_empty())
    }

    /// The drone's sortie never flew: forget it and close it in the store.
    pub(super) async fn abort_flight(&self, drone: &str) -> Result<(), StoreError> {
        let flight = self
            .fleet
            .lock()
            .expect("fleet")
            .get_mut(drone)
            .and_then(|live| {
                live.flying = false;
                live.following_since = None;
                live.flight.take()
            });
        if let Some(id) = flight.map(|f| f.id).filter(|id| !id.is_empty()) {
            self.store.end_flight(&id, FLIGHT_ABORTED, now_ms()).await?;
        }
        self.end_give_way(drone).await;
        Ok(())
    }

    /// Each department's share and the flight time it used over the last
    /// week, from the stored flights (refreshed every few seconds).
    pub async fn weekly_shares(&self) -> Result<HashMap<String, Share>, StoreError> {
        if let Some((at, shares)) = &*self.accounting.lock().expect("accounting") {
            if at.elapsed() < ACCOUNTING_REFRESH {
                return Ok(shares.clone());
            }
        }
        let now = now_ms();
        let since = now - SHARE_PERIOD.as_millis() as i64;
        let flown: Vec<Flown> = self
            .store
            .flights_since(since)
            .await?
            .into_iter()
            .filter_map(|f| {
                Some(Flown {
                    start_ms: f.started_at_ms?,
                    end_ms: f.ended_at_ms,
                    departments: f.tasks.into_iter().map(|t| t.department_id).collect(),
                })
            })
            .collect();
        let used = fair_share::used_by_department(&flown, since, now);
        let quotas = self.store.flight_shares().await?;
        let mut shares: HashMap<String, Share> = HashMap::new();
        for department in used.keys().chain(quotas.keys()) {
            shares.insert(
                department.clone(),
                Share {
                    quota: quotas.get(department).copied().unwrap_or(1.0),
                    used_s: used.get(department).copied().unwrap_or(0.0),
                },
            );
        }
        *self.accounting.lock().expect("accounting") = Some((Instant::now(), shares.clone()));
        Ok(shares)
    }
}
