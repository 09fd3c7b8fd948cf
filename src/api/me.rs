//! Who the caller is: the console asks this once after sign-in to choose
//! its view, instead of guessing the role from which reads are refused.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::auth::Caller;
use crate::dispatcher::Dispatcher;

#[derive(Debug, Serialize)]
pub struct Me {
    pub user_id: String,
    /// The user's display name; for a department-wide token (from before
    /// users existed) the department's name.
    pub name: String,
    pub role: &'static str,
    /// Set for department users only.
    pub department: Option<MeDepartment>,
}

#[derive(Debug, Serialize)]
pub struct MeDepartment {
    pub id: String,
    pub name: String,
}

pub async fn me(
    State(dispatcher): State<Arc<Dispatcher>>,
    caller: Caller,
) -> Result<Json<Me>, ApiError> {
    let store = dispatcher.store();
    let department = match caller.department.as_deref() {
        Some(id) => {
            // The department row may have been removed under a live token;
            // the id alone still tells the console whose tasks it shows.
            let name = store
                .department(id)
                .await
                .map_err(ApiError::internal)?
                .map_or_else(|| id.to_owned(), |d| d.name);
            Some(MeDepartment {
                id: id.to_owned(),
                name,
            })
        }
        None => None,
    };
    let user = store
        .user(&caller.user_id)
        .await
        .map_err(ApiError::internal)?;
    let name = match (user, &department) {
        (Some(user), _) => user.name,
        (None, Some(department)) => department.name.clone(),
        (None, None) => caller.user_id.clone(),
    };
    Ok(Json(Me {
        user_id: caller.user_id,
        name,
        role: caller.role.as_str(),
        department,
    }))
}

/// The OpenAPI description of `GET /api/v1/me`.
pub(super) fn paths() -> Value {
    json!({
        "/api/v1/me": {"get": {
            "operationId": "me", "summary": "Who the caller is: user id, name, role and (for department users) department",
            "responses": {
                "200": {"description": "the caller", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["user_id", "name", "role", "department"],
                    "properties": {
                        "user_id": {"type": "string"}, "name": {"type": "string"},
                        "role": {"type": "string", "enum": ["department", "pilot", "admin"]},
                        "department": {"type": "object", "nullable": true, "required": ["id", "name"],
                            "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
                    }}}}},
                "401": {"description": "missing or unknown bearer token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        }}
    })
}
