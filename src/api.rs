//! HTTP API under /api/v1. Errors are JSON of one shape:
//! `{"error": {"code", "message", "where"}}`, where `where` names the field
//! or header at fault.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::dispatcher::{Dispatcher, SubmitError};
use crate::task::TaskRequest;

pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    at: Option<String>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        at: Option<&str>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            at: at.map(str::to_owned),
        }
    }
    fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
            None,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "where": self.at}});
        (self.status, Json(body)).into_response()
    }
}

/// sha-256 of a token, hex: tokens are stored hashed, never as given.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn department(dispatcher: &Dispatcher, headers: &HeaderMap) -> Result<String, ApiError> {
    let unauthorized = |m: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            m,
            Some("header Authorization"),
        )
    };
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>` header"))?
        .to_str()
        .map_err(|_| unauthorized("Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("Authorization must be `Bearer <token>`"))?;
    dispatcher
        .store()
        .department_for_token(&token_hash(token.trim()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| unauthorized("unknown API token"))
}

pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/tasks", post(create_task).get(list_tasks))
        .route("/api/v1/tasks/{id}", get(get_task))
        .route("/api/v1/fleet", get(fleet))
        .route("/api/v1/images", get(images))
        .with_state(dispatcher)
}

async fn create_task(
    State(dispatcher): State<Arc<Dispatcher>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let department = department(&dispatcher, &headers).await?;
    let deserializer = &mut serde_json::Deserializer::from_slice(&body);
    let request: TaskRequest = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        // serde_path_to_error prints "." for the root and "?" when the
        // JSON itself is broken before any field: both mean the whole body.
        let path = e.path().to_string();
        let at = if path == "." || path == "?" {
            "body"
        } else {
            path.as_str()
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            e.inner().to_string(),
            Some(at),
        )
    })?;
    request.validate().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_task",
            e.message,
            Some(e.field),
        )
    })?;
    match dispatcher.submit(&department, request).await {
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

async fn get_task(
    State(dispatcher): State<Arc<Dispatcher>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let department = department(&dispatcher, &headers).await?;
    let task = dispatcher
        .store()
        .task(&id)
        .await
        .map_err(ApiError::internal)?;
    // Another department's task is reported as absent, not forbidden, so
    // ids cannot be probed.
    match task {
        Some(t) if t.department_id == department => Ok(Json(t).into_response()),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no task `{id}`"),
            Some("path id"),
        )),
    }
}

async fn list_tasks(
    State(dispatcher): State<Arc<Dispatcher>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let department = department(&dispatcher, &headers).await?;
    let tasks = dispatcher
        .store()
        .tasks_of_department(&department)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "tasks": tasks })).into_response())
}

async fn fleet(
    State(dispatcher): State<Arc<Dispatcher>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    department(&dispatcher, &headers).await?;
    Ok(Json(json!({ "drones": dispatcher.fleet_view() })).into_response())
}

#[derive(Deserialize)]
struct ImageQuery {
    task: Option<String>,
}

async fn images(
    State(dispatcher): State<Arc<Dispatcher>>,
    headers: HeaderMap,
    Query(query): Query<ImageQuery>,
) -> Result<Response, ApiError> {
    let department = department(&dispatcher, &headers).await?;
    let task = query.task.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "give the task id: ?task=ID",
            Some("query task"),
        )
    })?;
    let images = dispatcher
        .store()
        .images_of_task(&task, &department)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "task": task, "images": images })).into_response())
}
