//! Alerts for pilots and administrators: the open ones (or every one), and
//! acknowledging one, which is audited.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::require;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::dispatcher::Dispatcher;

/// Who sees and acknowledges alerts.
const WATCHERS: &[Role] = &[Role::Pilot, Role::Admin];
/// Most alerts one answer lists.
const MAX_LISTED: i64 = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    #[default]
    Open,
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    #[serde(default)]
    state: Which,
}

pub async fn list(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    query: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    require(&caller, WATCHERS)?;
    let Query(query) = query.map_err(super::query_error)?;
    let alerts = dispatcher
        .alert_desk()
        .list(matches!(query.state, Which::Open), MAX_LISTED)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "alerts": alerts })).into_response())
}

/// Acknowledges one alert, open or cleared; again is harmless and keeps
/// the first acknowledgement. Every call is audited, refusals included.
pub async fn acknowledge(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let outcome = acknowledge_as(&dispatcher, &caller, &id).await;
    let result = match &outcome {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("refused ({})", e.status().as_u16()),
    };
    audit::record(
        dispatcher.store(),
        &caller,
        "alert_acknowledge",
        &id,
        json!({}),
        &result,
    )
    .await
    .map_err(ApiError::internal)?;
    outcome
}

async fn acknowledge_as(
    dispatcher: &Dispatcher,
    caller: &Caller,
    id: &str,
) -> Result<Response, ApiError> {
    require(caller, WATCHERS)?;
    match dispatcher
        .alert_desk()
        .acknowledge(id, &caller.user_id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(alert) => Ok((StatusCode::OK, Json(alert)).into_response()),
        None => Err(ApiError::not_found("alert", id)),
    }
}
