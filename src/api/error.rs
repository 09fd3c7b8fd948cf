//! The one error shape of the API: `{"error": {"code", "message", "where"}}`,
//! where `where` names the field, parameter or header at fault.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Role;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    at: Option<String>,
}

impl ApiError {
    pub fn new(
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

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
            None,
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            message,
            Some("header Authorization"),
        )
    }

    /// The caller is known but its role may not do this.
    pub fn forbidden(have: Role, need: &[Role]) -> Self {
        let need: Vec<&str> = need.iter().map(|r| r.as_str()).collect();
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the role {}; the token is a {} user's",
                need.join(" or "),
                have.as_str()
            ),
            Some("header Authorization"),
        )
    }

    /// Absent, or another department's: both read the same, so ids of
    /// other departments cannot be probed.
    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} `{id}`"),
            Some("path id"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "where": self.at}});
        (self.status, Json(body)).into_response()
    }
}

/// Reads a JSON body, naming the field at fault when it does not fit.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
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
    })
}

/// Gives every error the API's one shape: responses of 400 and above that
/// are not JSON already (axum's own 404 and 405, the body limit's 413, the
/// timeout's 408) get `{"error": {...}}` with the status's code and words,
/// their other headers (`allow` on a 405) kept.
pub async fn one_error_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (
            "not_found",
            "no such endpoint; see /api/v1/openapi.json".to_string(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method; `allow` lists those it takes".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too_large",
            "the body is larger than this endpoint takes".to_string(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request took too long and was stopped".to_string(),
        ),
        other => (
            "error",
            other.canonical_reason().unwrap_or("error").to_lowercase(),
        ),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut shaped = ApiError::new(status, code, message, None).into_response();
    for (name, value) in parts.headers.iter() {
        shaped.headers_mut().insert(name.clone(), value.clone());
    }
    shaped
}
