//! A pilot takes a drone over from the dispatcher and later releases it.
//! Both are audited; the hold command sent to a drone in the air is
//! followed to the bridge's answer like any pilot command.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::fleet::record_outcome;
use super::require;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, TakeOverError};

fn refusal(error: TakeOverError) -> ApiError {
    match error {
        TakeOverError::UnknownDrone(drone) => ApiError::not_found("drone", &drone),
        TakeOverError::HeldByAnother { .. } | TakeOverError::NotHeld(_) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            error.to_string(),
            Some("path id"),
        ),
        TakeOverError::Command(error) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "broker_unavailable",
            error.to_string(),
            None,
        ),
        TakeOverError::Store(error) => ApiError::internal(error),
    }
}

async fn audited(
    dispatcher: &Dispatcher,
    caller: &Caller,
    action: &str,
    drone: &str,
    detail: serde_json::Value,
    result: &str,
) -> Result<i64, ApiError> {
    audit::record(dispatcher.store(), caller, action, drone, detail, result)
        .await
        .map_err(ApiError::internal)
}

pub async fn take_over(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(drone): Path<String>,
) -> Result<Response, ApiError> {
    if let Err(refused) = require(&caller, &[Role::Pilot]) {
        audited(
            &dispatcher,
            &caller,
            "drone_takeover",
            &drone,
            json!({}),
            "refused (403)",
        )
        .await?;
        return Err(refused);
    }
    let taken = match dispatcher.take_over(&drone, &caller.user_id).await {
        Ok(taken) => taken,
        Err(error) => {
            let refused = refusal(error);
            let result = format!("refused ({})", refused.status().as_u16());
            audited(
                &dispatcher,
                &caller,
                "drone_takeover",
                &drone,
                json!({}),
                &result,
            )
            .await?;
            return Err(refused);
        }
    };
    let command_id = taken.hold.as_ref().map(|h| h.command_id.clone());
    let detail = json!({ "hold_command_id": command_id, "already_held": taken.already });
    let seq = audited(&dispatcher, &caller, "drone_takeover", &drone, detail, "ok").await?;
    if let Some(hold) = taken.hold {
        record_outcome(&dispatcher, &caller, &drone, "pause", hold);
    }
    Ok(Json(json!({
        "drone": drone,
        "taken_over_by": caller.user_id,
        "state": "taken_over",
        "command_id": command_id,
        "audit_seq": seq,
    }))
    .into_response())
}

pub async fn release(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(drone): Path<String>,
) -> Result<Response, ApiError> {
    if let Err(refused) = require(&caller, &[Role::Pilot]) {
        audited(
            &dispatcher,
            &caller,
            "drone_release",
            &drone,
            json!({}),
            "refused (403)",
        )
        .await?;
        return Err(refused);
    }
    match dispatcher.release(&drone).await {
        Ok(held) => {
            let detail = json!({ "held_by": held.pilot, "since": held.since });
            let seq = audited(&dispatcher, &caller, "drone_release", &drone, detail, "ok").await?;
            Ok(Json(json!({
                "drone": drone,
                "taken_over_by": null,
                "state": "released",
                "command_id": null,
                "audit_seq": seq,
            }))
            .into_response())
        }
        Err(error) => {
            let refused = refusal(error);
            let result = format!("refused ({})", refused.status().as_u16());
            audited(
                &dispatcher,
                &caller,
                "drone_release",
                &drone,
                json!({}),
                &result,
            )
            .await?;
            Err(refused)
        }
    }
}
