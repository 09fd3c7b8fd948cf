//! A pilot taking a drone over: from then on the dispatcher sends it no
//! command of its own and plans nothing for it, until the pilot releases
//! it. In the air it is told to hold where it is; what it was flying stays
//! with it, and comes back to the queue if it lands unfinished. Held drones
//! are stored, so a restart does not hand them back.

use chrono::{DateTime, Utc};
use wire::{CommandBody, LandedState};

use super::{now_ms, Dispatcher, PilotCommandError, PilotCommandSent};
use crate::store::StoreError;

/// Who holds a drone, since when.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TakeOver {
    pub pilot: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TakeOverError {
    #[error("no drone `{0}` in this fleet")]
    UnknownDrone(String),
    #[error("drone {drone} is already taken over by {pilot}")]
    HeldByAnother { drone: String, pilot: String },
    #[error("drone {0} is not taken over")]
    NotHeld(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(PilotCommandError),
}

/// A take-over done: the hold command sent when the drone was in the air.
pub struct TakenOver {
    pub hold: Option<PilotCommandSent>,
    /// Already held by this same pilot: nothing changed.
    pub already: bool,
}

impl Dispatcher {
    /// Who holds `drone`, if anyone.
    pub fn taken_over(&self, drone: &str) -> Option<TakeOver> {
        self.takeovers
            .lock()
            .expect("takeovers")
            .get(drone)
            .cloned()
    }

    pub(super) fn is_taken_over(&self, drone: &str) -> bool {
        self.takeovers
            .lock()
            .expect("takeovers")
            .contains_key(drone)
    }

    /// `pilot` takes `drone` over. Taking over a drone one already holds is
    /// harmless; another pilot's is refused.
    pub async fn take_over(&self, drone: &str, pilot: &str) -> Result<TakenOver, TakeOverError> {
        if !self.config.drones.iter().any(|d| d.id == drone) {
            return Err(TakeOverError::UnknownDrone(drone.to_owned()));
        }
        if let Some(held) = self.taken_over(drone) {
            if held.pilot != pilot {
                return Err(TakeOverError::HeldByAnother {
                    drone: drone.to_owned(),
                    pilot: held.pilot,
                });
            }
            return Ok(TakenOver {
                hold: None,
                already: true,
            });
        }
        let since = Utc::now();
        self.store
            .save_takeover(drone, pilot, since.timestamp_millis())
            .await?;
        self.takeovers.lock().expect("takeovers").insert(
            drone.to_owned(),
            TakeOver {
                pilot: pilot.to_owned(),
                since,
            },
        );
        tracing::warn!(drone, pilot, "drone taken over by a pilot");
        let airborne = self
            .fleet
            .lock()
            .expect("fleet")
            .get(drone)
            .and_then(|l| l.telemetry.as_ref())
            .is_some_and(|t| t.landed != LandedState::OnGround);
        let hold = if airborne {
            Some(
                self.pilot_command(drone, CommandBody::Pause)
                    .await
                    .map_err(TakeOverError::Command)?,
            )
        } else {
            None
        };
        Ok(TakenOver {
            hold,
            already: false,
        })
    }

    /// Hands `drone` back: the dispatcher may plan for it again once it is
    /// ready on the ground. The drone is sent nothing.
    pub async fn release(&self, drone: &str) -> Result<TakeOver, TakeOverError> {
        if !self.config.drones.iter().any(|d| d.id == drone) {
            return Err(TakeOverError::UnknownDrone(drone.to_owned()));
        }
        let Some(held) = self.taken_over(drone) else {
            return Err(TakeOverError::NotHeld(drone.to_owned()));
        };
        self.store.delete_takeover(drone).await?;
        self.takeovers.lock().expect("takeovers").remove(drone);
        tracing::info!(
            drone,
            pilot = held.pilot,
            "drone released to the dispatcher"
        );
        self.wake.notify_one();
        Ok(held)
    }

    /// Drones held when an earlier run stopped stay held.
    pub(super) async fn load_takeovers(&self) -> Result<(), StoreError> {
        let stored = self.store.takeovers().await?;
        let mut held = self.takeovers.lock().expect("takeovers");
        for (drone, pilot, since_ms) in stored {
            let since = DateTime::from_timestamp_millis(since_ms).unwrap_or_else(Utc::now);
            held.insert(drone, TakeOver { pilot, since });
        }
        Ok(())
    }

    /// A drone the dispatcher started a mission on, taken over while the
    /// start was under way, is told to hold so it waits for its pilot.
    pub(super) async fn hold_for_pilot(&self, drone: &str) {
        if !self.is_taken_over(drone) {
            return;
        }
        match self.pilot_command(drone, CommandBody::Pause).await {
            Ok(sent) => {
                tracing::warn!(
                    drone,
                    command = sent.command_id,
                    "mission started under a take-over; told to hold"
                )
            }
            Err(error) => {
                tracing::error!(drone, %error, "mission started under a take-over; could not tell it to hold")
            }
        }
    }

    /// A mission the dispatcher was starting on a drone a pilot has since
    /// taken over is not started: its tasks go back to the queue.
    pub(super) async fn abandon_for_takeover(
        &self,
        drone: &str,
        task_ids: &[String],
    ) -> Result<(), StoreError> {
        self.abort_flight(drone).await?;
        self.intents.lock().expect("intents").remove(drone);
        let reason = format!("drone {drone} was taken over by a pilot before take-off; re-queued");
        for task in task_ids {
            self.store
                .set_task_state(
                    task,
                    crate::task::TaskState::Queued.as_str(),
                    Some(&reason),
                    None,
                    now_ms(),
                )
                .await?;
        }
        tracing::info!(drone, tasks = ?task_ids, "mission not started: drone taken over");
        Ok(())
    }
}
