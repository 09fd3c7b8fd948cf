//! Tasks and their imagery: department users submit, list and cancel their
//! own; pilots and administrators read every department's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{parse_body, ApiError};
use super::require;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, SubmitError};
use crate::store::TaskRow;
use crate::task::TaskRequest;

fn own_department(caller: &Caller) -> Result<&str, ApiError> {
    require(caller, &[Role::Department])?;
    caller.department.as_deref().ok_or_else(|| {
        ApiError::internal(format!(
            "department user {} has no department",
            caller.user_id
        ))
    })
}

pub async fn create_task(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let department = own_department(&caller)?;
    let request: TaskRequest = parse_body(&body)?;
    request.validate().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_task",
            e.message,
            Some(e.field),
        )
    })?;
    let store = dispatcher.store();
    let quota = store
        .department(department)
        .await
        .map_err(ApiError::internal)?
        .and_then(|d| d.max_open_tasks);
    if let Some(max) = quota {
        let open = store
            .count_open_tasks(department)
            .await
            .map_err(ApiError::internal)?;
        if open >= max {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "quota_exceeded",
                format!("department {department} has {open} unfinished tasks, its quota is {max}"),
                Some("department quota"),
            ));
        }
    }
    if request.recurrence.is_some() {
        return super::series::submit(&dispatcher, department, request).await;
    }
    match dispatcher.submit(department, request).await {
        Ok(task) => Ok((StatusCode::CREATED, Json(task)).into_response()),
        Err(SubmitError::Refused { field, message }) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            message,
            Some(field),
        )),
        Err(SubmitError::Store(e)) => Err(ApiError::internal(e)),
    }
}

/// The task if the caller may see it; otherwise not found, the same answer
/// as for an id that does not exist.
async fn visible_task(
    dispatcher: &Dispatcher,
    caller: &Caller,
    id: &str,
) -> Result<TaskRow, ApiError> {
    match dispatcher
        .store()
        .task(id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(t) if caller.may_see(&t.department_id) => Ok(t),
        _ => Err(ApiError::not_found("task", id)),
    }
}

pub async fn get_task(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(visible_task(&dispatcher, &caller, &id).await?).into_response())
}

pub async fn list_tasks(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let store = dispatcher.store();
    let tasks = match caller.role {
        Role::Department => store
            .tasks_of_department(own_department(&caller)?)
            .await
            .map_err(ApiError::internal)?,
        Role::Pilot | Role::Admin => store.all_tasks().await.map_err(ApiError::internal)?,
    };
    Ok(Json(json!({ "tasks": tasks })).into_response())
}

/// A department cancels one of its tasks while it is still queued; once the
/// dispatcher has taken it, a pilot has to act on the flight instead.
pub async fn cancel_task(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let department = own_department(&caller)?;
    let task = visible_task(&dispatcher, &caller, &id).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let cancelled = dispatcher
        .store()
        .cancel_queued_task(
            &id,
            department,
            &format!("cancelled by {}", caller.user_id),
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    if !cancelled {
        let state = dispatcher
            .store()
            .task(&id)
            .await
            .map_err(ApiError::internal)?
            .map_or(task.state, |t| t.state);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_cancellable",
            format!("task {id} is {state}; only queued tasks can be cancelled"),
            Some("path id"),
        ));
    }
    let task = visible_task(&dispatcher, &caller, &id).await?;
    Ok(Json(task).into_response())
}

#[derive(Deserialize)]
pub struct ImageQuery {
    task: Option<String>,
}

pub async fn images(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    query: Result<Query<ImageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(super::query_error)?;
    let task = query.task.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "give the task id: ?task=ID",
            Some("query task"),
        )
    })?;
    let store = dispatcher.store();
    let images = match caller.role {
        Role::Department => store
            .images_of_task(&task, own_department(&caller)?)
            .await
            .map_err(ApiError::internal)?,
        Role::Pilot | Role::Admin => store
            .images_of_any_task(&task)
            .await
            .map_err(ApiError::internal)?,
    };
    Ok(Json(json!({ "task": task, "images": images })).into_response())
}
