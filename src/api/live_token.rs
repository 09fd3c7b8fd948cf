//! A browser cannot set headers on a WebSocket, so the live WebSocket also
//! takes the bearer token as a subprotocol: the client offers
//! `skyshare.v1` and `bearer.<token>`, and the server answers with
//! `skyshare.v1` (the token is never echoed). An Authorization header, when
//! present, wins. Other routes keep to the header.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::ApiError;
use crate::auth::Caller;
use crate::dispatcher::Dispatcher;

/// The subprotocol the server selects.
pub const PROTOCOL: &str = "skyshare.v1";
const TOKEN_PREFIX: &str = "bearer.";

/// The caller of the live WebSocket, from the header or the subprotocol.
pub struct LiveCaller(pub Caller);

impl<S> FromRequestParts<S> for LiveCaller
where
    Arc<Dispatcher>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<LiveCaller, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            if let Some(token) = subprotocol_token(&parts.headers) {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    ApiError::unauthorized("the bearer subprotocol holds characters a token cannot")
                })?;
                parts.headers.insert(AUTHORIZATION, value);
            }
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(LiveCaller)
    }
}

/// The token offered as `bearer.<token>` among the requested subprotocols.
fn subprotocol_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix(TOKEN_PREFIX))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_offered_subprotocols() {
        let mut headers = HeaderMap::new();
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("skyshare.v1, bearer.sky_00ff"),
        );
        assert_eq!(subprotocol_token(&headers).as_deref(), Some("sky_00ff"));
    }

    #[test]
    fn no_token_when_none_is_offered_or_it_is_empty() {
        let mut headers = HeaderMap::new();
        assert_eq!(subprotocol_token(&headers), None);
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("skyshare.v1, bearer."),
        );
        assert_eq!(subprotocol_token(&headers), None);
    }
}
