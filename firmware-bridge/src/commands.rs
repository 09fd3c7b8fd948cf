//! Carrying out contract commands on the autopilot, one at a time, and
//! answering each with its lifecycle: `accepted` (sent on arrival by the
//! MQTT session), optionally `in_progress`, then exactly one terminal reply.
//!
//! What to send for each command on each autopilot is decided in
//! [`crate::recipes`] (pure); this module executes those steps with the
//! MAVLink command protocol's retries and timeouts, confirms mode changes
//! from HEARTBEAT, and runs the plan uploads through [`mission_upload`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mavlink::dialects::ardupilotmega::{
    MavCmd, MavFrame, MavMessage, MavResult, COMMAND_INT_DATA, COMMAND_LONG_DATA,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use wire::{Command, CommandBody, CommandState, FlightMode};

use crate::autopilot::{next_from, Autopilot};
use crate::command_ledger::{reply, CommandLedger};
use crate::mission_upload::{self, UploadError};
use crate::outbox::Outgoing;
use crate::recipes::{self, Action, ExpectedMode, Step};
use crate::telemetry::RateRequest;
use crate::vehicle_state::AutopilotTarget;
use crate::wall_clock_ms;

/// Wait this long for a COMMAND_ACK before sending again.
pub const COMMAND_ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Resends after the first attempt (each with `confirmation` + 1).
pub const COMMAND_RETRIES: u8 = 3;
/// After IN_PROGRESS the autopilot promises a final ACK; allow it this long.
pub const IN_PROGRESS_TIMEOUT: Duration = Duration::from_secs(30);
/// Autopilots heartbeat at 1 Hz: allow a few for a mode change to show.
pub const MODE_CONFIRM_TIMEOUT: Duration = Duration::from_millis(3500);
/// The fastest telemetry a pilot can ask for, and for how long at most.
pub const MAX_TELEMETRY_HZ: f64 = 50.0;
pub const MAX_TELEMETRY_BOOST_S: u32 = 3600;

/// A switch to the mode a command asked for, within this long of the
/// command starting, is the command's doing and not a failsafe.
pub const COMMANDED_MODE_WINDOW: Duration = Duration::from_secs(15);

/// The flight mode the latest command asked for, and when; shared with the
/// event detector so a commanded return is not reported as a failsafe.
#[derive(Debug, Clone, Default)]
pub struct CommandedMode(Arc<Mutex<Option<(FlightMode, std::time::Instant)>>>);

impl CommandedMode {
    pub fn record(&self, mode: FlightMode) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((mode, std::time::Instant::now()));
    }

    /// The mode asked for within [`COMMANDED_MODE_WINDOW`] of `now`.
    pub fn recent(&self, now: std::time::Instant) -> Option<FlightMode> {
        let latest = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        latest
            .filter(|(_, at)| now.saturating_duration_since(*at) < COMMANDED_MODE_WINDOW)
            .map(|(mode, _)| mode)
    }
}

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

impl From<UploadError> for Outcome {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::TimedOut { .. } => Outcome::TimedOut(error.to_string()),
            other => Outcome::Failed(other.to_string()),
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

/// Checks a command's values before anything is sent to the autopilot.
pub fn validate(body: &CommandBody) -> Result<(), String> {
    let position = |lat_deg: f64, lon_deg: f64| {
        if !(lat_deg.is_finite() && (-90.0..=90.0).contains(&lat_deg)) {
            return Err(format!("latitude {lat_deg} is outside -90..90"));
        }
        if !(lon_deg.is_finite() && (-180.0..=180.0).contains(&lon_deg)) {
            return Err(format!("longitude {lon_deg} is outside -180..180"));
        }
        Ok(())
    };
    match body {
        CommandBody::ChangeSpeed { speed_mps } if !(speed_mps.is_finite() && *speed_mps > 0.0) => {
            Err(format!("speed {speed_mps} m/s must be a number above 0"))
        }
        CommandBody::Reposition(target) => {
            position(target.lat_deg, target.lon_deg)?;
            if !target.alt_rel_m.is_finite() {
                return Err(format!(
                    "alt_rel_m must be a number, got {}",
                    target.alt_rel_m
                ));
            }
            Ok(())
        }
        CommandBody::SetTelemetryRate { hz, for_s } => {
            if !(hz.is_finite() && *hz > 0.0 && *hz <= MAX_TELEMETRY_HZ) {
                return Err(format!(
                    "telemetry rate {hz} Hz must be above 0 and at most {MAX_TELEMETRY_HZ}"
                ));
            }
            if !(1..=MAX_TELEMETRY_BOOST_S).contains(for_s) {
                return Err(format!(
                    "for_s {for_s} must be 1 to {MAX_TELEMETRY_BOOST_S} seconds"
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn action_of(body: &CommandBody) -> Option<Action> {
    Some(match body {
        CommandBody::StartMission => Action::StartMission,
        CommandBody::Pause => Action::Pause,
        CommandBody::Resume => Action::Resume,
        CommandBody::ReturnToLaunch => Action::ReturnToLaunch,
        CommandBody::Land => Action::Land,
        CommandBody::Arm => Action::Arm,
        CommandBody::Disarm => Action::Disarm,
        CommandBody::ChangeSpeed { speed_mps } => Action::ChangeSpeed {
            speed_mps: *speed_mps,
        },
        CommandBody::Reposition(target) => Action::Reposition(target.clone()),
        CommandBody::UploadMission(_)
        | CommandBody::UploadFence(_)
        | CommandBody::UploadRally(_)
        | CommandBody::SetTelemetryRate { .. } => return None,
    })
}

pub struct CommandRunner {
    pub autopilot: Autopilot,
    pub replier: Replier,
    /// Size of the mission last uploaded, for MissionCompleted detection
    /// (u32::MAX = none yet).
    pub uploaded_mission_items: Arc<AtomicU32>,
    /// Where `set_telemetry_rate` takes effect.
    pub telemetry_rate: watch::Sender<Option<RateRequest>>,
    pub commanded_mode: CommandedMode,
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
        if let Err(reason) = validate(&command.body) {
            return Outcome::Failed(format!("{} refused: {reason}", command.body.name()));
        }
        // Not an autopilot command: works whatever the link does.
        if let CommandBody::SetTelemetryRate { hz, for_s } = command.body {
            let until = tokio::time::Instant::now() + Duration::from_secs(u64::from(for_s));
            self.telemetry_rate
                .send_replace(Some(RateRequest { hz, until }));
            return Outcome::Succeeded(Some(format!("telemetry at {hz} Hz for {for_s} s")));
        }
        let Some(target) = self.autopilot.target() else {
            return Outcome::Failed("autopilot has not been heard yet (no HEARTBEAT)".into());
        };
        if !self.autopilot.state().link_up {
            return Outcome::Failed("autopilot link is down (no HEARTBEAT for 3 s)".into());
        }
        match &command.body {
            CommandBody::UploadMission(mission) => {
                match mission_upload::upload_mission(&self.autopilot, &mission.items).await {
                    Ok(()) => {
                        self.uploaded_mission_items
                            .store(mission.items.len() as u32, Ordering::Relaxed);
                        Outcome::Succeeded(Some(format!(
                            "{} mission items uploaded",
                            mission.items.len()
                        )))
                    }
                    Err(error) => error.into(),
                }
            }
            CommandBody::UploadFence(fence) => {
                match mission_upload::upload_fence(&self.autopilot, fence).await {
                    Ok(count) => Outcome::Succeeded(Some(format!("{count} fence items uploaded"))),
                    Err(error) => error.into(),
                }
            }
            CommandBody::UploadRally(rally) => {
                match mission_upload::upload_rally(&self.autopilot, rally).await {
                    Ok(count) => Outcome::Succeeded(Some(format!("{count} rally points uploaded"))),
                    Err(error) => error.into(),
                }
            }
            body => {
                let Some(action) = action_of(body) else {
                    return Outcome::Failed(format!("{} is not a flight command", body.name()));
                };
                if let Some(mode) = action.resulting_mode() {
                    self.commanded_mode.record(mode);
                }
                match recipes::recipe(target.kind, &action) {
                    Ok(steps) => self.run_steps(&command.id, &target, &steps).await,
                    Err(reason) => Outcome::Failed(reason),
                }
            }
        }
    }

    /// Runs a recipe: each command sent with retries, each mode change
    /// confirmed by a HEARTBEAT that arrived after the command before it.
    async fn run_steps(
        &self,
        request_id: &str,
        target: &AutopilotTarget,
        steps: &[Step],
    ) -> Outcome {
        let mut heartbeats_before = self.autopilot.state().heartbeats_seen;
        for step in steps {
            let sent = match step {
                Step::EnsureArmed => {
                    if self.autopilot.state().armed {
                        continue;
                    }
                    heartbeats_before = self.autopilot.state().heartbeats_seen;
                    let command = MavCmd::MAV_CMD_COMPONENT_ARM_DISARM;
                    let arm = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                    self.send_command(request_id, target, command, move |confirmation| {
                        command_long_message(target, command, arm, confirmation)
                    })
                    .await
                }
                Step::ConfirmMode(mode) => {
                    if let Err(outcome) = self.confirm_mode(*mode, heartbeats_before).await {
                        return outcome;
                    }
                    continue;
                }
                Step::Long { command, params } => {
                    heartbeats_before = self.autopilot.state().heartbeats_seen;
                    let params = *params;
                    let command = *command;
                    self.send_command(request_id, target, command, move |confirmation| {
                        command_long_message(target, command, params, confirmation)
                    })
                    .await
                }
                Step::Int {
                    command,
                    frame,
                    params,
                    lat_e7,
                    lon_e7,
                    alt_m,
                } => {
                    heartbeats_before = self.autopilot.state().heartbeats_seen;
                    let message = command_int_message(
                        target, *command, *frame, *params, *lat_e7, *lon_e7, *alt_m,
                    );
                    // COMMAND_INT has no confirmation counter.
                    self.send_command(request_id, target, *command, move |_| message.clone())
                        .await
                }
            };
            if let Err(outcome) = sent {
                return outcome;
            }
        }
        Outcome::Succeeded(None)
    }

    async fn confirm_mode(
        &self,
        mode: ExpectedMode,
        heartbeats_before: u64,
    ) -> Result<(), Outcome> {
        let mut state = self.autopilot.state_watch();
        let confirmed = tokio::time::timeout(
            MODE_CONFIRM_TIMEOUT,
            state
                .wait_for(|s| s.heartbeats_seen > heartbeats_before && mode.matches(s.custom_mode)),
        )
        .await;
        match confirmed {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_closed)) => Err(Outcome::Failed(
                "bridge shut down while confirming the mode".into(),
            )),
            Err(_elapsed) => {
                let reported = self.autopilot.state().mode;
                Err(Outcome::Failed(format!(
                    "autopilot accepted the change to {} but its HEARTBEAT still reports {reported:?}",
                    mode.name()
                )))
            }
        }
    }

    /// Sends a command (built for each attempt's `confirmation`) with
    /// retries. `Ok` on MAV_RESULT_ACCEPTED; IN_PROGRESS becomes an
    /// `in_progress` reply and a longer wait.
    async fn send_command(
        &self,
        request_id: &str,
        target: &AutopilotTarget,
        command: MavCmd,
        build: impl Fn(u8) -> MavMessage,
    ) -> Result<(), Outcome> {
        let mut frames = self.autopilot.frames();
        let mut confirmation = 0u8;
        let mut deadline_after = COMMAND_ACK_TIMEOUT;
        let mut in_progress = false;
        loop {
            if !in_progress {
                let message = build(confirmation);
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

pub fn command_int_message(
    target: &AutopilotTarget,
    command: MavCmd,
    frame: MavFrame,
    params: [f32; 4],
    lat_e7: i32,
    lon_e7: i32,
    alt_m: f32,
) -> MavMessage {
    MavMessage::COMMAND_INT(COMMAND_INT_DATA {
        param1: params[0],
        param2: params[1],
        param3: params[2],
        param4: params[3],
        x: lat_e7,
        y: lon_e7,
        z: alt_m,
        command,
        target_system: target.system_id,
        target_component: target.component_id,
        frame,
        current: 0,
        autocontinue: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight_mode::AutopilotKind;

    #[test]
    fn bad_values_are_refused_before_reaching_the_autopilot() {
        assert!(validate(&CommandBody::ChangeSpeed { speed_mps: 0.0 }).is_err());
        assert!(validate(&CommandBody::ChangeSpeed {
            speed_mps: f32::NAN
        })
        .is_err());
        assert!(validate(&CommandBody::ChangeSpeed { speed_mps: 5.0 }).is_ok());
        let far = wire::Reposition {
            lat_deg: 91.0,
            lon_deg: 0.0,
            alt_rel_m: 10.0,
        };
        assert!(validate(&CommandBody::Reposition(far))
            .unwrap_err()
            .contains("latitude 91"));
        let too_fast = CommandBody::SetTelemetryRate {
            hz: 500.0,
            for_s: 10,
        };
        assert!(validate(&too_fast).unwrap_err().contains("500"));
        let forever = CommandBody::SetTelemetryRate { hz: 10.0, for_s: 0 };
        assert!(validate(&forever).is_err());
        assert!(validate(&CommandBody::SetTelemetryRate {
            hz: 10.0,
            for_s: 60
        })
        .is_ok());
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
