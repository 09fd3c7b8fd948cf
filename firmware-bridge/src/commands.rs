//! Carrying out contract commands on the autopilot, one at a time, and
//! answering each with its lifecycle: `accepted` (sent on arrival by the
//! MQTT session), optionally `in_progress`, then exactly one terminal reply.
//!
//! PX4 recipes (as QGroundControl does them): start = arm, then DO_SET_MODE
//! AUTO.MISSION; pause = DO_REPOSITION with only the change-mode flag (Hold
//! here); resume = AUTO.MISSION; return = AUTO.RTL; land = AUTO.LAND. PX4 can
//! ACK a mode change and not make it, so each mode change is confirmed in a
//! later HEARTBEAT.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavCmd, MavMessage, MavModeFlag, MavResult, COMMAND_LONG_DATA,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wire::{Command, CommandBody, CommandState};

use crate::autopilot::{next_from, Autopilot};
use crate::command_ledger::{reply, CommandLedger};
use crate::flight_mode::{AutopilotKind, Px4Mode};
use crate::mission_upload;
use crate::outbox::Outgoing;
use crate::vehicle_state::AutopilotTarget;
use crate::wall_clock_ms;

/// Wait this long for a COMMAND_ACK before sending again.
pub const COMMAND_ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Resends after the first attempt (each with `confirmation` + 1).
pub const COMMAND_RETRIES: u8 = 3;
/// After IN_PROGRESS the autopilot promises a final ACK; allow it this long.
pub const IN_PROGRESS_TIMEOUT: Duration = Duration::from_secs(30);
/// PX4 heartbeats at 1 Hz: allow a few for a mode change to show.
pub const MODE_CONFIRM_TIMEOUT: Duration = Duration::from_millis(3500);

/// How a command ended, before it becomes a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(Option<String>),
    Failed(String),
    TimedOut(String),
}

impl Outcome {
    fn state_and_message(self) -> (CommandState, Option<String>) {
        match self {
            Outcome::Succeeded(message) => (CommandState::Succeeded, message),
            Outcome::Failed(message) => (CommandState::Failed, Some(message)),
            Outcome::TimedOut(message) => (CommandState::TimedOut, Some(message)),
        }
    }
}

/// Sends replies: records each in the ledger (so duplicates see it) and
/// queues it for MQTT.
#[derive(Clone)]
pub struct Replier {
    pub drone: String,
    pub ledger: Arc<Mutex<CommandLedger>>,
    pub outbox: mpsc::Sender<Outgoing>,
}

impl Replier {
    pub async fn send(&self, request_id: &str, state: CommandState, message: Option<String>) {
        let reply = reply(request_id, &self.drone, wall_clock_ms(), state, message);
        let recorded = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .update(&reply);
        if !recorded {
            tracing::warn!(drone = %self.drone, command = request_id, ?state, "reply after a terminal state dropped");
            return;
        }
        if self.outbox.send(Outgoing::Reply(reply)).await.is_err() {
            tracing::debug!(command = request_id, "MQTT session gone; reply not queued");
        }
    }
}

pub struct CommandRunner {
    pub autopilot: Autopilot,
    pub replier: Replier,
    /// Size of the mission last uploaded, for MissionCompleted detection
    /// (u32::MAX = none yet).
    pub uploaded_mission_items: Arc<AtomicU32>,
}

impl CommandRunner {
    /// Runs commands in arrival order until `shutdown`; one at a time, so an
    /// upload never interleaves with a mode change.
    pub async fn run(self, mut commands: mpsc::Receiver<Command>, shutdown: CancellationToken) {
        loop {
            let command = tokio::select! {
                () = shutdown.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => command,
                    None => return,
                },
            };
            let name = command.body.name();
            tracing::info!(drone = %self.replier.drone, command = %command.id, kind = name, "running command");
            let outcome = tokio::select! {
                () = shutdown.cancelled() => Outcome::Failed("bridge shut down while running the command".into()),
                outcome = self.execute(&command) => outcome,
            };
            tracing::info!(drone = %self.replier.drone, command = %command.id, kind = name, ?outcome, "command finished");
            let (state, message) = outcome.state_and_message();
            self.replier.send(&command.id, state, message).await;
        }
    }

    async fn execute(&self, command: &Command) -> Outcome {
        let Some(target) = self.autopilot.target() else {
            return Outcome::Failed("autopilot has not been heard yet (no HEARTBEAT)".into());
        };
        if !self.autopilot.state().link_up {
            return Outcome::Failed("autopilot link is down (no HEARTBEAT for 3 s)".into());
        }
        let request_id = command.id.as_str();
        match &command.body {
            CommandBody::UploadMission(mission) => {
                match mission_upload::upload(&self.autopilot, &mission.items).await {
                    Ok(()) => {
                        self.uploaded_mission_items
                            .store(mission.items.len() as u32, Ordering::Relaxed);
                        Outcome::Succeeded(Some(format!(
                            "{} mission items uploaded",
                            mission.items.len()
                        )))
                    }
                    Err(error @ mission_upload::UploadError::TimedOut { .. }) => {
                        Outcome::TimedOut(error.to_string())
                    }
                    Err(error) => Outcome::Failed(error.to_string()),
                }
            }
            CommandBody::StartMission => {
                let Some(()) = self.require_px4(&target) else {
                    return px4_only("start_mission", &target);
                };
                if !self.autopilot.state().armed {
                    let arm = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                    if let Err(outcome) = self
                        .command_long(
                            request_id,
                            &target,
                            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
                            arm,
                        )
                        .await
                    {
                        return outcome;
                    }
                }
                self.set_px4_mode(request_id, &target, Px4Mode::MISSION)
                    .await
            }
            CommandBody::Pause => {
                let Some(()) = self.require_px4(&target) else {
                    return px4_only("pause", &target);
                };
                let heartbeats_before = self.autopilot.state().heartbeats_seen;
                // p1 -1 default speed, p2 1 = CHANGE_MODE only (PX4 refuses
                // anything else), NaN yaw and position = hold right here.
                let hold_here = [-1.0, 1.0, 0.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN];
                if let Err(outcome) = self
                    .command_long(
                        request_id,
                        &target,
                        MavCmd::MAV_CMD_DO_REPOSITION,
                        hold_here,
                    )
                    .await
                {
                    return outcome;
                }
                self.confirm_mode(Px4Mode::HOLD, heartbeats_before).await
            }
            CommandBody::Resume => {
                let Some(()) = self.require_px4(&target) else {
                    return px4_only("resume", &target);
                };
                self.set_px4_mode(request_id, &target, Px4Mode::MISSION)
                    .await
            }
            CommandBody::ReturnToLaunch => match target.kind {
                AutopilotKind::Px4 => {
                    self.set_px4_mode(request_id, &target, Px4Mode::RETURN)
                        .await
                }
                _ => self
                    .command_long(
                        request_id,
                        &target,
                        MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
                        [0.0; 7],
                    )
                    .await
                    .map_or_else(|outcome| outcome, |()| Outcome::Succeeded(None)),
            },
            CommandBody::Land => match target.kind {
                AutopilotKind::Px4 => self.set_px4_mode(request_id, &target, Px4Mode::LAND).await,
                _ => {
                    // NaN yaw and position: land where it is.
                    let here = [0.0, 0.0, 0.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN];
                    self.command_long(request_id, &target, MavCmd::MAV_CMD_NAV_LAND, here)
                        .await
                        .map_or_else(|outcome| outcome, |()| Outcome::Succeeded(None))
                }
            },
        }
    }

    fn require_px4(&self, target: &AutopilotTarget) -> Option<()> {
        (target.kind == AutopilotKind::Px4).then_some(())
    }

    /// DO_SET_MODE with PX4's main/sub modes, then confirmation in HEARTBEAT.
    async fn set_px4_mode(
        &self,
        request_id: &str,
        target: &AutopilotTarget,
        mode: Px4Mode,
    ) -> Outcome {
        let heartbeats_before = self.autopilot.state().heartbeats_seen;
        let params = set_mode_params(mode);
        if let Err(outcome) = self
            .command_long(request_id, target, MavCmd::MAV_CMD_DO_SET_MODE, params)
            .await
        {
            return outcome;
        }
        self.confirm_mode(mode, heartbeats_before).await
    }

    async fn confirm_mode(&self, mode: Px4Mode, heartbeats_before: u64) -> Outcome {
        let mut state = self.autopilot.state_watch();
        let confirmed = tokio::time::timeout(
            MODE_CONFIRM_TIMEOUT,
            state
                .wait_for(|s| s.heartbeats_seen > heartbeats_before && mode.matches(s.custom_mode)),
        )
        .await;
        match confirmed {
            Ok(Ok(_)) => Outcome::Succeeded(None),
            Ok(Err(_closed)) => {
                Outcome::Failed("bridge shut down while confirming the mode".into())
            }
            Err(_elapsed) => {
                let reported = self.autopilot.state().mode;
                Outcome::Failed(format!(
                    "autopilot accepted the change to {} but its HEARTBEAT still reports {reported:?}",
                    mode.name()
                ))
            }
        }
    }

    /// COMMAND_LONG with retries. `Ok` on MAV_RESULT_ACCEPTED; IN_PROGRESS
    /// becomes an `in_progress` reply and a longer wait.
    async fn command_long(
        &self,
        request_id: &str,
        target: &AutopilotTarget,
        command: MavCmd,
        params: [f32; 7],
    ) -> Result<(), Outcome> {
        let mut frames = self.autopilot.frames();
        let mut confirmation = 0u8;
        let mut deadline_after = COMMAND_ACK_TIMEOUT;
        let mut in_progress = false;
        loop {
            if !in_progress {
                let message = command_long_message(target, command, params, confirmation);
                self.autopilot
                    .send(&message)
                    .await
                    .map_err(|error| Outcome::Failed(error.to_string()))?;
            }
            let ack = tokio::time::timeout(deadline_after, async {
                loop {
                    let frame = next_from(&mut frames, target).await?;
                    if let MavMessage::COMMAND_ACK(ack) = &frame.1 {
                        if ack.command == command {
                            return Some(ack.clone());
                        }
                    }
                }
            })
            .await;
            match ack {
                Ok(Some(ack)) => match ack.result {
                    MavResult::MAV_RESULT_ACCEPTED => return Ok(()),
                    MavResult::MAV_RESULT_IN_PROGRESS => {
                        if !in_progress {
                            in_progress = true;
                            deadline_after = IN_PROGRESS_TIMEOUT;
                        }
                        let progress = if ack.progress == u8::MAX {
                            format!("{command:?} in progress")
                        } else {
                            format!("{command:?} {}% done", ack.progress)
                        };
                        self.replier
                            .send(request_id, CommandState::InProgress, Some(progress))
                            .await;
                    }
                    other => {
                        return Err(Outcome::Failed(format!(
                            "autopilot answered {other:?} to {command:?}"
                        )))
                    }
                },
                Ok(None) => return Err(Outcome::Failed("MAVLink feed closed".into())),
                Err(_elapsed) if in_progress => {
                    return Err(Outcome::TimedOut(format!(
                        "{command:?} reported in progress but never finished within {IN_PROGRESS_TIMEOUT:?}"
                    )))
                }
                Err(_elapsed) => {
                    if confirmation >= COMMAND_RETRIES {
                        return Err(Outcome::TimedOut(format!(
                            "no COMMAND_ACK for {command:?} after {} attempts",
                            u32::from(COMMAND_RETRIES) + 1
                        )));
                    }
                    confirmation += 1;
                    tracing::debug!(command = request_id, mav_cmd = ?command, confirmation, "no ACK, resending");
                }
            }
        }
    }
}

fn px4_only(kind: &str, target: &AutopilotTarget) -> Outcome {
    Outcome::Failed(format!(
        "{kind} is implemented for PX4 only; this autopilot is {}",
        target.kind.name()
    ))
}

/// DO_SET_MODE parameters for PX4: p1 CUSTOM_MODE_ENABLED, p2 main mode,
/// p3 sub mode (PX4 reads them as separate bytes; a packed word in p2 is
/// truncated to 0 and may still be ACKed).
pub fn set_mode_params(mode: Px4Mode) -> [f32; 7] {
    [
        f32::from(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED.bits()),
        f32::from(mode.main_mode),
        f32::from(mode.sub_mode),
        0.0,
        0.0,
        0.0,
        0.0,
    ]
}

pub fn command_long_message(
    target: &AutopilotTarget,
    command: MavCmd,
    params: [f32; 7],
    confirmation: u8,
) -> MavMessage {
    MavMessage::COMMAND_LONG(COMMAND_LONG_DATA {
        param1: params[0],
        param2: params[1],
        param3: params[2],
        param4: params[3],
        param5: params[4],
        param6: params[5],
        param7: params[6],
        command,
        target_system: target.system_id,
        target_component: target.component_id,
        confirmation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px4_set_mode_carries_main_and_sub_separately() {
        assert_eq!(
            set_mode_params(Px4Mode::MISSION),
            [1.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(set_mode_params(Px4Mode::RETURN)[1..3], [4.0, 5.0]);
        assert_eq!(set_mode_params(Px4Mode::LAND)[1..3], [4.0, 6.0]);
    }

    #[test]
    fn command_long_targets_the_autopilot_and_counts_confirmations() {
        let target = AutopilotTarget {
            system_id: 3,
            component_id: 1,
            kind: AutopilotKind::Px4,
        };
        let MavMessage::COMMAND_LONG(data) =
            command_long_message(&target, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [1.0; 7], 2)
        else {
            unreachable!()
        };
        assert_eq!((data.target_system, data.target_component), (3, 1));
        assert_eq!(data.confirmation, 2);
        assert_eq!(data.command, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM);
    }
}
