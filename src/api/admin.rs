//! Administration: departments and their quotas, users and their tokens,
//! and the audit log. Every change is audited, refusals included.

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
use crate::audit;
use crate::auth::{random_token, token_hash, Caller, Role};
use crate::dispatcher::Dispatcher;
use crate::store::UserRow;

const ADMIN: &[Role] = &[Role::Admin];

/// Ids of departments and users: short, printable, safe in paths and logs.
fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id",
            "ids are 1 to 64 characters of letters, digits, '-', '_' and '.'",
            Some("path id"),
        ))
    }
}

/// Runs an administrator's change and audits it whichever way it ends.
async fn audited(
    dispatcher: &Dispatcher,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    outcome: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    let result = match &outcome {
        Ok(r) if r.status().is_success() => "ok".to_owned(),
        Ok(r) => format!("refused ({})", r.status().as_u16()),
        Err(e) => format!("refused ({})", e.status().as_u16()),
    };
    audit::record(dispatcher.store(), caller, action, target, detail, &result)
        .await
        .map_err(ApiError::internal)?;
    outcome
}

pub async fn list_departments(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let departments = dispatcher
        .store()
        .departments()
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "departments": departments })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    name: String,
    /// Unfinished tasks allowed at once; absent or null: unlimited.
    #[serde(default)]
    max_open_tasks: Option<i64>,
}

pub async fn put_department(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let detail = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let outcome = async {
        check_id(&id)?;
        let request: DepartmentBody = parse_body(&body)?;
        if request.name.trim().is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_department",
                "name must not be empty",
                Some("name"),
            ));
        }
        if request.max_open_tasks.is_some_and(|m| m < 0) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_department",
                "max_open_tasks must be 0 or more",
                Some("max_open_tasks"),
            ));
        }
        let store = dispatcher.store();
        store
            .upsert_department(&id, request.name.trim())
            .await
            .map_err(ApiError::internal)?;
        store
            .set_quota(&id, request.max_open_tasks)
            .await
            .map_err(ApiError::internal)?;
        let department = store.department(&id).await.map_err(ApiError::internal)?;
        Ok(Json(department).into_response())
    }
    .await;
    audited(&dispatcher, &caller, "department_put", &id, detail, outcome).await
}

pub async fn list_users(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let users = dispatcher
        .store()
        .users()
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "users": users })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    name: String,
    role: String,
    #[serde(default)]
    department_id: Option<String>,
}

pub async fn put_user(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let detail = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let outcome = async {
        check_id(&id)?;
        let request: UserBody = parse_body(&body)?;
        let invalid = |message: &str, at: &str| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_user",
                message,
                Some(at),
            )
        };
        let role = Role::parse(&request.role)
            .ok_or_else(|| invalid("role must be department, pilot or admin", "role"))?;
        let store = dispatcher.store();
        match (&role, &request.department_id) {
            (Role::Department, None) => {
                return Err(invalid(
                    "a department user needs department_id",
                    "department_id",
                ))
            }
            (Role::Department, Some(d)) => {
                if store
                    .department(d)
                    .await
                    .map_err(ApiError::internal)?
                    .is_none()
                {
                    return Err(invalid(&format!("no department `{d}`"), "department_id"));
                }
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "only department users belong to a department",
                    "department_id",
                ))
            }
            (_, None) => {}
        }
        let created_at_ms = match store.user(&id).await.map_err(ApiError::internal)? {
            Some(existing) => existing.created_at_ms,
            None => chrono::Utc::now().timestamp_millis(),
        };
        let user = UserRow {
            id: id.clone(),
            name: request.name,
            role: role.as_str().to_owned(),
            department_id: request.department_id,
            created_at_ms,
        };
        store.upsert_user(&user).await.map_err(ApiError::internal)?;
        Ok(Json(user).into_response())
    }
    .await;
    audited(&dispatcher, &caller, "user_put", &id, detail, outcome).await
}

/// A new token for a user, shown in this answer only; the store keeps its hash.
pub async fn issue_token(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let outcome = async {
        let store = dispatcher.store();
        if store.user(&id).await.map_err(ApiError::internal)?.is_none() {
            return Err(ApiError::not_found("user", &id));
        }
        let token = random_token();
        let now = chrono::Utc::now().timestamp_millis();
        store
            .add_user_token(&token_hash(&token), &id, now)
            .await
            .map_err(ApiError::internal)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "user_id": id, "token": token })),
        )
            .into_response())
    }
    .await;
    audited(&dispatcher, &caller, "token_issue", &id, json!({}), outcome).await
}

pub async fn revoke_tokens(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let outcome = async {
        let store = dispatcher.store();
        if store.user(&id).await.map_err(ApiError::internal)?.is_none() {
            return Err(ApiError::not_found("user", &id));
        }
        let revoked = store
            .revoke_user_tokens(&id)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(json!({ "user_id": id, "revoked": revoked })).into_response())
    }
    .await;
    audited(
        &dispatcher,
        &caller,
        "tokens_revoke",
        &id,
        json!({}),
        outcome,
    )
    .await
}

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Lines after this sequence number (paging).
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn audit(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let Query(query) = query.map_err(super::query_error)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries = dispatcher
        .store()
        .audit(query.after.unwrap_or(0), limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

/// Temporary restrictions: everyone may read them (pilots fly around them,
/// departments see why a task is refused); administrators create and lift
/// them.
pub async fn list_restrictions(
    State(dispatcher): State<Arc<Dispatcher>>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let zones = dispatcher.restrictions();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        crate::airspace::import::geojson::export(&zones).to_string(),
    )
        .into_response())
}

/// Creates restrictions from a zone file (GeoJSON, ED-269 or a
/// QGroundControl plan): every zone checked, none created if any is bad.
/// Answers with the flights in the air each one meets.
pub async fn create_restrictions(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let detail = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let outcome = async {
        let text = std::str::from_utf8(&body).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the body is not UTF-8 text",
                Some("body"),
            )
        })?;
        let zones = match crate::airspace::import::import(text) {
            Ok((_, zones)) => zones,
            // As `POST /zones` refuses a file: every problem listed.
            Err(e) => return Ok(super::zones::invalid_zones(&e, "nothing put in force")),
        };
        if zones.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_zone",
                "the file holds no zone",
                Some("body"),
            ));
        }
        let ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
        let affected = dispatcher
            .add_restrictions(zones)
            .await
            .map_err(|e| match e {
                crate::dispatcher::RestrictionError::DuplicateId(_) => ApiError::new(
                    StatusCode::CONFLICT,
                    "duplicate_zone",
                    e.to_string(),
                    Some("body"),
                ),
                crate::dispatcher::RestrictionError::Ended { .. } => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "restriction_ended",
                    e.to_string(),
                    Some("body"),
                ),
                crate::dispatcher::RestrictionError::Store(e) => ApiError::internal(e),
            })?;
        let affected: Vec<serde_json::Value> = affected
            .into_iter()
            .map(|(drone, legs)| json!({"drone": drone, "legs": legs}))
            .collect();
        Ok((
            StatusCode::CREATED,
            Json(json!({"restrictions": ids, "affected_flights": affected})),
        )
            .into_response())
    }
    .await;
    audited(
        &dispatcher,
        &caller,
        "restriction_create",
        "restrictions",
        detail,
        outcome,
    )
    .await
}

pub async fn delete_restriction(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let outcome = async {
        if dispatcher
            .remove_restriction(&id)
            .await
            .map_err(ApiError::internal)?
        {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no restriction `{id}`"),
                Some("path id"),
            ))
        }
    }
    .await;
    audited(
        &dispatcher,
        &caller,
        "restriction_delete",
        &id,
        serde_json::Value::Null,
        outcome,
    )
    .await
}
