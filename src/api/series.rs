//! Recurring tasks: a task request with a `recurrence` is stored as a
//! series whose occurrences become tasks of their own ahead of their
//! windows. Departments list, read and cancel their own series (cancelling
//! stops further occurrences and cancels the queued ones); pilots and
//! administrators read every department's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::require;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, SubmitError};
use crate::store::{SeriesRow, SERIES_CANCELLED};
use crate::task::TaskRequest;

/// Stores a recurring request for `department` (called by the task
/// submission route when the request has a recurrence).
pub async fn submit(
    dispatcher: &Dispatcher,
    department: &str,
    request: TaskRequest,
) -> Result<Response, ApiError> {
    match dispatcher.submit_series(department, request).await {
        Ok(submitted) => Ok((StatusCode::CREATED, Json(submitted)).into_response()),
        Err(SubmitError::Refused { field, message }) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            message,
            Some(field),
        )),
        Err(SubmitError::Store(e)) => Err(ApiError::internal(e)),
    }
}

async fn visible_series(
    dispatcher: &Dispatcher,
    caller: &Caller,
    id: &str,
) -> Result<SeriesRow, ApiError> {
    match dispatcher
        .store()
        .series(id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(s) if caller.may_see(&s.department_id) => Ok(s),
        _ => Err(ApiError::not_found("series", id)),
    }
}

pub async fn list_series(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let department = match caller.role {
        Role::Department => Some(caller.department.clone().ok_or_else(|| {
            ApiError::internal(format!(
                "department user {} has no department",
                caller.user_id
            ))
        })?),
        Role::Pilot | Role::Admin => None,
    };
    let series = dispatcher
        .store()
        .all_series(department.as_deref())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "series": series })).into_response())
}

pub async fn get_series(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let series = visible_series(&dispatcher, &caller, &id).await?;
    let tasks: Vec<_> = dispatcher
        .store()
        .series_tasks(&id)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(_, task)| task)
        .collect();
    Ok(Json(json!({ "series": series, "tasks": tasks })).into_response())
}

/// Cancels a series of the caller's department: no occurrence is created
/// any more and the queued ones are cancelled; ones already flying finish.
pub async fn cancel_series(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Department])?;
    let series = visible_series(&dispatcher, &caller, &id).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let cancelled = dispatcher
        .store()
        .cancel_series(
            &id,
            &series.department_id,
            &format!("series cancelled by {}", caller.user_id),
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    let Some(cancelled) = cancelled else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_cancellable",
            format!("series {id} is already {SERIES_CANCELLED}"),
            Some("path id"),
        ));
    };
    let series = visible_series(&dispatcher, &caller, &id).await?;
    Ok(Json(json!({ "series": series, "cancelled_tasks": cancelled })).into_response())
}
