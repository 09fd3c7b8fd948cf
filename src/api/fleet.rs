//! The fleet, its flights, and pilot commands to one drone.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use wire::{CommandBody, CommandState};

use super::error::{parse_body, ApiError};
use super::require;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, DroneView, PilotCommandError, PilotCommandSent};

/// The fleet as this caller may see it: a department user sees every
/// drone's position and state, but only its own tasks' ids on them.
async fn fleet_for(dispatcher: &Dispatcher, caller: &Caller) -> Result<Vec<DroneView>, ApiError> {
    let mut drones = dispatcher.fleet_view();
    if caller.role != Role::Department {
        return Ok(drones);
    }
    let mut owner: HashMap<String, bool> = HashMap::new();
    for id in drones.iter().flat_map(|d| d.task_ids.iter()) {
        if !owner.contains_key(id) {
            let task = dispatcher
                .store()
                .task(id)
                .await
                .map_err(ApiError::internal)?;
            let mine = task.is_some_and(|t| caller.may_see(&t.department_id));
            owner.insert(id.clone(), mine);
        }
    }
    let mine = |id: &String| owner.get(id).copied().unwrap_or(false);
    for drone in &mut drones {
        drone.task_ids.retain(mine);
        if drone.task_id.as_ref().is_some_and(|id| !mine(id)) {
            drone.task_id = None;
        }
    }
    Ok(drones)
}

pub async fn fleet(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let drones = fleet_for(&dispatcher, &caller).await?;
    Ok(Json(json!({ "drones": drones })).into_response())
}

/// Drones flying tasks now: all of them for pilots and administrators, the
/// ones carrying its tasks for a department. Each has its planned `route`
/// (a GeoJSON LineString, dock to dock; null for a flight picked up after a
/// restart), which the console draws with the progress along it.
pub async fn flights(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let routes = dispatcher.flight_routes();
    let mut flights = Vec::new();
    for drone in fleet_for(&dispatcher, &caller).await? {
        if drone.task_ids.is_empty() {
            continue;
        }
        let route = routes.get(&drone.id).map(|points| {
            let coordinates: Vec<[f64; 2]> = points.iter().map(|p| [p.x(), p.y()]).collect();
            json!({"type": "LineString", "coordinates": coordinates})
        });
        let mut flight = serde_json::to_value(&drone).map_err(ApiError::internal)?;
        flight["route"] = route.unwrap_or(serde_json::Value::Null);
        flights.push(flight);
    }
    Ok(Json(json!({ "flights": flights })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    command: PilotAction,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PilotAction {
    Pause,
    Resume,
    ReturnToLaunch,
    Land,
}

impl PilotAction {
    fn body(self) -> CommandBody {
        match self {
            PilotAction::Pause => CommandBody::Pause,
            PilotAction::Resume => CommandBody::Resume,
            PilotAction::ReturnToLaunch => CommandBody::ReturnToLaunch,
            PilotAction::Land => CommandBody::Land,
        }
    }
}

fn outcome_name(state: CommandState) -> &'static str {
    match state {
        CommandState::Accepted => "accepted",
        CommandState::InProgress => "in_progress",
        CommandState::Succeeded => "succeeded",
        CommandState::Failed => "failed",
        CommandState::TimedOut => "timed_out",
    }
}

/// A pilot's command to one drone. Answers 202 once the broker has it; the
/// bridge's reply is appended to the audit log when it arrives.
pub async fn drone_command(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(drone): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Pilot])?;
    let request: CommandRequest = parse_body(&body)?;
    let body = request.command.body();
    let name = body.name();
    let store = dispatcher.store().clone();
    let sent = match dispatcher.pilot_command(&drone, body).await {
        Ok(sent) => sent,
        Err(PilotCommandError::UnknownDrone(_)) => {
            return Err(ApiError::not_found("drone", &drone))
        }
        Err(error) => {
            audit::record(
                &store,
                &caller,
                "drone_command",
                &drone,
                json!({ "command": name }),
                &format!("error: {error}"),
            )
            .await
            .map_err(ApiError::internal)?;
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "broker_unavailable",
                error.to_string(),
                None,
            ));
        }
    };
    let command_id = sent.command_id.clone();
    let seq = audit::record(
        &store,
        &caller,
        "drone_command",
        &drone,
        json!({ "command": name, "command_id": command_id }),
        "sent",
    )
    .await
    .map_err(ApiError::internal)?;
    record_outcome(&dispatcher, &caller, &drone, name, sent);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "drone": drone, "command": name, "command_id": command_id, "state": "sent", "audit_seq": seq })),
    )
        .into_response())
}

/// Appends the bridge's terminal answer to `sent` to the audit log when it
/// comes (or `no_reply` after the command reply limit), and times it.
pub(super) fn record_outcome(
    dispatcher: &Arc<Dispatcher>,
    caller: &Caller,
    drone: &str,
    name: &'static str,
    sent: PilotCommandSent,
) {
    let dispatcher = dispatcher.clone();
    let who = caller.clone();
    let target = drone.to_owned();
    tokio::spawn(async move {
        let reply = sent.outcome.await.ok().flatten();
        let (result, message) = match reply {
            Some(r) => (outcome_name(r.state), r.message),
            None => ("no_reply", None),
        };
        let detail = json!({ "command": name, "command_id": sent.command_id, "message": message });
        if let Err(error) = audit::record(
            dispatcher.store(),
            &who,
            "drone_command_outcome",
            &target,
            detail,
            result,
        )
        .await
        {
            tracing::error!(%error, "could not record a command outcome");
        }
    });
}
