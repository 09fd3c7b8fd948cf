//! HTTP API under /api/v1. Every route but /healthz needs a bearer token
//! whose user has a role allowed there; department users only ever see
//! their own department's tasks, flights and imagery (another department's
//! ids read as absent). Errors are JSON of one shape (see [`error`]).

mod admin;
mod airspace_check;
mod alerts;
pub mod error;
mod fleet;
mod fleet_admin;
mod limits;
mod live;
mod live_token;
mod me;
mod metrics;
pub mod openapi;
mod series;
mod stac;
mod takeover;
mod tasks;
mod write_deadline;
mod zones;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::Router;

pub use crate::auth::token_hash;
use crate::auth::{bearer, Caller, Role};
use crate::dispatcher::Dispatcher;
use crate::live::LiveHub;
pub use error::ApiError;

/// What every handler can reach: the dispatcher (and through it the
/// store) and the live hub.
#[derive(Clone)]
pub struct AppState {
    pub dispatcher: Arc<Dispatcher>,
    pub live: Arc<LiveHub>,
    pub counters: Arc<metrics::HttpCounters>,
    pub live_write_deadline: live::WriteDeadline,
}

impl FromRef<AppState> for live::WriteDeadline {
    fn from_ref(state: &AppState) -> live::WriteDeadline {
        state.live_write_deadline
    }
}

impl FromRef<AppState> for Arc<metrics::HttpCounters> {
    fn from_ref(state: &AppState) -> Arc<metrics::HttpCounters> {
        state.counters.clone()
    }
}

impl FromRef<AppState> for Arc<Dispatcher> {
    fn from_ref(state: &AppState) -> Arc<Dispatcher> {
        state.dispatcher.clone()
    }
}

impl FromRef<AppState> for Arc<LiveHub> {
    fn from_ref(state: &AppState) -> Arc<LiveHub> {
        state.live.clone()
    }
}

pub use limits::Limits;
pub use write_deadline::{DeadlineIo, DeadlineListener};

/// The API with the default limits. Must be called inside a tokio runtime
/// (it starts the live stream's sampler).
pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    router_with(dispatcher, Limits::default())
}

pub fn router_with(dispatcher: Arc<Dispatcher>, limits: Limits) -> Router {
    let live = LiveHub::start(&dispatcher);
    router_on(dispatcher, limits, live)
}

/// The API with its live streams fed by `live` (benchmarks and tests
/// publish on it directly).
pub fn router_on(dispatcher: Arc<Dispatcher>, limits: Limits, live: Arc<LiveHub>) -> Router {
    let counters = Arc::new(metrics::HttpCounters::default());
    let limiter = limits::RateLimiter::new(limits);
    // Bearer tokens, not cookies, carry identity: any origin may call.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::PUT,
            axum::http::Method::DELETE,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ]);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .route("/readyz", get(readyz))
        .route(
            "/api/v1/tasks",
            post(tasks::create_task).get(tasks::list_tasks),
        )
        .route("/api/v1/tasks/{id}", get(tasks::get_task))
        .route("/api/v1/tasks/{id}/cancel", post(tasks::cancel_task))
        .route("/api/v1/images", get(tasks::images))
        .route("/api/v1/me", get(me::me))
        .route("/api/v1/fleet", get(fleet::fleet))
        .route("/api/v1/flights", get(fleet::flights))
        .route("/api/v1/drones/{id}/commands", post(fleet::drone_command))
        .route("/api/v1/airspace/check", post(airspace_check::check))
        .route("/api/v1/drones/{id}/takeover", post(takeover::take_over))
        .route("/api/v1/drones/{id}/release", post(takeover::release))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/drones", get(fleet_admin::list_drones))
        .route("/api/v1/drones/{id}/service", put(fleet_admin::put_service))
        .route("/api/v1/docks", get(fleet_admin::list_docks))
        .route("/api/v1/fleet/shares", get(fleet_admin::list_shares))
        .route("/api/v1/fleet/shares/{id}", put(fleet_admin::put_share))
        .route("/api/v1/series", get(series::list_series))
        .route("/api/v1/series/{id}", get(series::get_series))
        .route("/api/v1/series/{id}/cancel", post(series::cancel_series))
        .route("/api/v1/departments", get(admin::list_departments))
        .route("/api/v1/departments/{id}", put(admin::put_department))
        .route("/api/v1/users", get(admin::list_users))
        .route("/api/v1/users/{id}", put(admin::put_user))
        .route(
            "/api/v1/users/{id}/tokens",
            post(admin::issue_token).delete(admin::revoke_tokens),
        )
        .route("/api/v1/audit", get(admin::audit))
        .route(
            "/api/v1/restrictions",
            get(admin::list_restrictions).post(admin::create_restrictions),
        )
        .route(
            "/api/v1/restrictions/{id}",
            axum::routing::delete(admin::delete_restriction),
        )
        .route(
            "/api/v1/zones",
            get(zones::export_zones).post(zones::import_zones),
        )
        .route(
            "/api/v1/zones/{id}",
            axum::routing::delete(zones::delete_zone),
        )
        .route("/api/v1/live/ws", get(live::websocket))
        .route("/api/v1/live/sse", get(live::sse))
        .route("/api/v1/stac", get(stac::landing))
        .route("/api/v1/stac/conformance", get(stac::conformance))
        .route("/api/v1/stac/collections", get(stac::collections))
        .route("/api/v1/stac/collections/{id}", get(stac::collection))
        .route("/api/v1/stac/collections/{id}/items", get(stac::items))
        .route(
            "/api/v1/stac/collections/{id}/items/{item}",
            get(stac::item),
        )
        .route(
            "/api/v1/stac/search",
            get(stac::search_get).post(stac::search_post),
        )
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, openapi::MEDIA_TYPE)],
                    openapi::document().to_string(),
                )
            }),
        )
        .route(
            "/api/v1/docs",
            get(|| async { axum::response::Html(openapi::DOCS_PAGE) }),
        )
        // Any other path under the API is a JSON 404, not the console's.
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async {
                ApiError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "no such endpoint; see /api/v1/openapi.json",
                    Some("path"),
                )
            }),
        )
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(limiter, limits::limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        // Outside the body limit and the timeout, so their answers too.
        .layer(axum::middleware::from_fn(error::one_error_shape))
        .layer(axum::middleware::from_fn_with_state(
            counters.clone(),
            metrics::count,
        ))
        .layer(cors)
        .with_state(AppState {
            dispatcher,
            live,
            counters,
            live_write_deadline: live::WriteDeadline(limits.live_write_deadline),
        })
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<Dispatcher>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, ApiError> {
        let dispatcher = Arc::<Dispatcher>::from_ref(state);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let token = bearer(header).map_err(|e| ApiError::unauthorized(e.to_string()))?;
        let hash = token_hash(token);
        let store = dispatcher.store();
        if let Some(user) = store
            .user_for_token(&hash)
            .await
            .map_err(ApiError::internal)?
        {
            let role = Role::parse(&user.role).ok_or_else(|| {
                ApiError::internal(format!("user {} has unknown role {}", user.id, user.role))
            })?;
            return Ok(Caller {
                user_id: user.id,
                role,
                department: user.department_id,
            });
        }
        // Department-wide tokens from before users existed still work, as
        // department users.
        match store
            .department_for_token(&hash)
            .await
            .map_err(ApiError::internal)?
        {
            Some(department) => Ok(Caller {
                user_id: format!("department:{department}"),
                role: Role::Department,
                department: Some(department),
            }),
            None => Err(ApiError::unauthorized("unknown API token")),
        }
    }
}

/// Refuses callers whose role is not one of `roles`.
pub(crate) fn require(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(caller.role, roles))
    }
}

/// A query string that does not fit, in the API's error shape.
pub(crate) fn query_error(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_query",
        rejection.body_text(),
        Some("query"),
    )
}

/// Ready when the store answers; the process being up is /healthz.
async fn readyz(
    axum::extract::State(dispatcher): axum::extract::State<Arc<Dispatcher>>,
) -> Result<&'static str, ApiError> {
    match dispatcher.store().ping().await {
        Ok(()) => Ok("ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready: the store does not answer");
            Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
                None,
            ))
        }
    }
}
