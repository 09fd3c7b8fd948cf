//! Fleet administration: drones and their service state (in service, in
//! maintenance, lost), docks, and departments' shares of flight time with
//! what each used over the last week. Every change is audited, refusals
//! included.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::error::{parse_body, ApiError};
use super::require;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, ServiceError, SHARE_PERIOD};
use crate::fleet_service::ServiceState;

/// Every drone with its payloads and service state. A department user sees
/// only its own tasks' ids on them.
pub async fn list_drones(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let mut drones = dispatcher.drone_admin_views();
    if caller.role == Role::Department {
        let mut mine: HashMap<String, bool> = HashMap::new();
        for id in drones.iter().flat_map(|d| d.task_ids.iter()) {
            if !mine.contains_key(id) {
                let task = dispatcher
                    .store()
                    .task(id)
                    .await
                    .map_err(ApiError::internal)?;
                mine.insert(
                    id.clone(),
                    task.is_some_and(|t| caller.may_see(&t.department_id)),
                );
            }
        }
        for drone in &mut drones {
            drone
                .task_ids
                .retain(|id| mine.get(id).copied().unwrap_or(false));
        }
    }
    Ok(Json(json!({ "drones": drones })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The longest reason kept, characters.
const MAX_REASON_CHARS: usize = 500;

/// Puts a drone in or out of service. Administrators may set any state;
/// pilots may take a drone out of service (maintenance, lost) but only an
/// administrator puts it back. A drone declared lost has what it was
/// flying re-queued; the answer lists those tasks.
pub async fn put_service(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(drone): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin, Role::Pilot])?;
    let detail = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let outcome = async {
        let request: ServiceBody = parse_body(&body)?;
        let state = ServiceState::parse(&request.state).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_service_state",
                format!(
                    "unknown service state `{}`; one of in_service, maintenance, lost",
                    request.state
                ),
                Some("state"),
            )
        })?;
        if state == ServiceState::InService && caller.role != Role::Admin {
            return Err(ApiError::forbidden(caller.role, &[Role::Admin]));
        }
        let reason = request
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reason",
                format!("a reason is at most {MAX_REASON_CHARS} characters"),
                Some("reason"),
            ));
        }
        match dispatcher
            .set_service(
                &drone,
                state,
                reason,
                (&caller.user_id, caller.role.as_str()),
            )
            .await
        {
            Ok(change) => Ok(Json(change).into_response()),
            Err(ServiceError::UnknownDrone(_)) => Err(ApiError::not_found("drone", &drone)),
            Err(ServiceError::Store(e)) => Err(ApiError::internal(e)),
        }
    }
    .await;
    // A change is audited by the dispatcher itself (as a lost drone it
    // detects is); a refusal is audited here.
    if let Err(error) = &outcome {
        audit::record(
            dispatcher.store(),
            &caller,
            "drone_service",
            &drone,
            detail,
            &format!("refused ({})", error.status().as_u16()),
        )
        .await
        .map_err(ApiError::internal)?;
    }
    outcome
}

/// The region's docks with the drones based on each.
pub async fn list_docks(
    State(dispatcher): State<Arc<Dispatcher>>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let drones = dispatcher.drone_admin_views();
    let docks: Vec<serde_json::Value> = dispatcher
        .region()
        .docks
        .iter()
        .map(|dock| {
            let based: Vec<&str> = drones
                .iter()
                .filter(|d| d.dock_id == dock.id)
                .map(|d| d.id.as_str())
                .collect();
            json!({
                "id": dock.id,
                "name": dock.name,
                "lat": dock.position.y(),
                "lon": dock.position.x(),
                "alt_msl_m": dock.alt_msl_m,
                "drones": based,
            })
        })
        .collect();
    Ok(Json(json!({ "docks": docks })).into_response())
}

/// Each department's share of flight time and what it flew over the last
/// week; departments with no share set have 1.
pub async fn list_shares(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin, Role::Pilot])?;
    let store = dispatcher.store();
    let shares = dispatcher
        .weekly_shares()
        .await
        .map_err(ApiError::internal)?;
    let departments = store.departments().await.map_err(ApiError::internal)?;
    let set = store.flight_shares().await.map_err(ApiError::internal)?;
    let total_share: f64 = departments
        .iter()
        .map(|d| set.get(&d.id).copied().unwrap_or(1.0))
        .sum();
    let total_used: f64 = shares.values().map(|s| s.used_s).sum();
    let rows: Vec<serde_json::Value> = departments
        .iter()
        .map(|d| {
            let share = set.get(&d.id).copied().unwrap_or(1.0);
            let used_s = shares.get(&d.id).map_or(0.0, |s| s.used_s);
            json!({
                "department_id": d.id,
                "share": share,
                "entitled_fraction": if total_share > 0.0 { share / total_share } else { 0.0 },
                "used_s": used_s,
                "used_fraction": if total_used > 0.0 { used_s / total_used } else { 0.0 },
            })
        })
        .collect();
    Ok(Json(json!({
        "period_days": SHARE_PERIOD.as_secs() / 86_400,
        "departments": rows,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// A weight, normalised over departments; null goes back to 1.
    share: Option<f64>,
}

pub async fn put_share(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(department): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Admin])?;
    let detail = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let outcome = async {
        let request: ShareBody = parse_body(&body)?;
        if request
            .share
            .is_some_and(|s| !s.is_finite() || !(0.0..=1000.0).contains(&s))
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_share",
                "share is a weight from 0 to 1000 (null for the default of 1)",
                Some("share"),
            ));
        }
        let store = dispatcher.store();
        if store
            .department(&department)
            .await
            .map_err(ApiError::internal)?
            .is_none()
        {
            return Err(ApiError::not_found("department", &department));
        }
        store
            .set_flight_share(&department, request.share)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(json!({
            "department_id": department,
            "share": request.share.unwrap_or(1.0),
        }))
        .into_response())
    }
    .await;
    let result = match &outcome {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("refused ({})", e.status().as_u16()),
    };
    audit::record(
        dispatcher.store(),
        &caller,
        "department_share",
        &department,
        detail,
        &result,
    )
    .await
    .map_err(ApiError::internal)?;
    outcome
}
