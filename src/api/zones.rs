//! Zones: the airspace the dispatcher checks against, exported as GeoJSON
//! (the region map's zones and the imported ones), zone files imported
//! (ED-269, GeoJSON or a QGroundControl plan, told apart by content; all or
//! nothing, every problem listed) and imported zones deleted. Pilots and
//! administrators read; administrators change; departments see zones on
//! the region map (/api/v1/region) instead. Changes are audited.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiError;
use super::require;
use crate::airspace::import::geojson;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::dispatcher::{Dispatcher, ZoneDeleteError, ZoneImportError};

const READERS: &[Role] = &[Role::Pilot, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];

/// Every zone in force but the restrictions (GET /api/v1/restrictions),
/// as one FeatureCollection; each feature says where it comes from.
pub async fn export_zones(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require(&caller, READERS)?;
    let map = geojson::export(&dispatcher.region().zones);
    let imported = geojson::export(&dispatcher.imported_zones());
    let mut features = Vec::new();
    for (collection, source) in [(map, "map"), (imported, "imported")] {
        if let Some(list) = collection["features"].as_array() {
            for f in list {
                let mut f = f.clone();
                f["properties"]["source"] = json!(source);
                features.push(f);
            }
        }
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/geo+json")],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response())
}

/// Imports a zone file: 201 with the ids, or 422 with every problem.
pub async fn import_zones(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let outcome: Result<Response, ApiError> = match std::str::from_utf8(&body) {
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body is not UTF-8 text",
            Some("body"),
        )),
        Ok(text) => match dispatcher.import_zones(text).await {
            Ok(ids) => Ok((StatusCode::CREATED, Json(json!({ "imported": ids }))).into_response()),
            Err(ZoneImportError::Invalid(e)) => Ok(invalid_zones(&e, "nothing imported")),
            Err(ZoneImportError::Store(e)) => Err(ApiError::internal(e)),
        },
    };
    let result = match &outcome {
        Ok(r) if r.status() == StatusCode::CREATED => "ok".to_owned(),
        Ok(r) => format!("refused ({})", r.status().as_u16()),
        Err(e) => format!("refused ({})", e.status().as_u16()),
    };
    // The file itself may be large: the audit keeps its size.
    let detail = json!({"bytes": body.len()});
    audit::record(
        dispatcher.store(),
        &caller,
        "zones_import",
        "zones",
        detail,
        &result,
    )
    .await
    .map_err(ApiError::internal)?;
    outcome
}

pub async fn delete_zone(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&caller, ADMIN)?;
    let outcome = match dispatcher.delete_zone(&id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(ZoneDeleteError::Unknown(_)) => Err(ApiError::not_found("imported zone", &id)),
        Err(e @ ZoneDeleteError::NotImported(..)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_imported",
            e.to_string(),
            Some("path id"),
        )),
        Err(ZoneDeleteError::Store(e)) => Err(ApiError::internal(e)),
    };
    let result = match &outcome {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("refused ({})", e.status().as_u16()),
    };
    audit::record(
        dispatcher.store(),
        &caller,
        "zone_delete",
        &id,
        serde_json::Value::Null,
        &result,
    )
    .await
    .map_err(ApiError::internal)?;
    outcome
}

/// A zone file refused: 422 in the API's error shape, with every problem
/// also as a list (`feature`, `reason`), after `what` happened to the file.
pub(super) fn invalid_zones(e: &crate::airspace::import::ImportError, what: &str) -> Response {
    let problems: Vec<_> = e
        .problems
        .iter()
        .map(|p| json!({"feature": p.feature, "reason": p.reason}))
        .collect();
    let message = format!(
        "{what}: {}",
        e.problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": {
            "code": "invalid_zone", "message": message, "where": "body",
            "problems": problems
        }})),
    )
        .into_response()
}
