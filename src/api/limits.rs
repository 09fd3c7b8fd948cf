//! Per-token request rate limits: a token bucket for each bearer token
//! (keyed by its hash; callers without a token share one bucket), so one
//! busy integrator cannot starve the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::auth::{bearer, token_hash};

/// The HTTP limits of one API instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Requests a token may make at once after a quiet spell.
    pub burst: f64,
    /// Requests per second a token may keep up.
    pub per_second: f64,
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Longest a request may take until its answer starts.
    pub timeout: std::time::Duration,
    /// Longest one write to a live-stream client may take; a client that
    /// takes nothing for this long is disconnected. `skyshare serve` and
    /// the demo put the same deadline on every connection
    /// ([`super::DeadlineListener`]), which is what ends a stalled
    /// Server-Sent Events client.
    pub live_write_deadline: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            burst: 600.0,
            per_second: 300.0,
            body_bytes: 256 * 1024,
            timeout: std::time::Duration::from_secs(30),
            live_write_deadline: std::time::Duration::from_secs(10),
        }
    }
}

/// A token bucket: `take` at `now` succeeds while tokens remain, and says
/// how long to wait otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(limits: &Limits, now: Instant) -> Bucket {
        Bucket {
            tokens: limits.burst,
            at: now,
        }
    }

    pub fn take(&mut self, limits: &Limits, now: Instant) -> Result<(), f64> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limits.per_second).min(limits.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.tokens) / limits.per_second)
        }
    }
}

pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn check(&self, key: &str) -> Result<(), f64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate buckets");
        // Buckets that have refilled completely carry no state worth keeping.
        if buckets.len() > 10_000 {
            let refill = self.limits.burst / self.limits.per_second;
            buckets.retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < refill);
        }
        buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::full(&self.limits, now))
            .take(&self.limits, now)
    }
}

pub async fn limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let key = bearer(header).map_or_else(|_| "anonymous".to_owned(), token_hash);
    match limiter.check(&key) {
        Ok(()) => next.run(request).await,
        Err(wait_s) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {} requests per second for this token; retry in {:.1} s",
                    limiter.limits.per_second, wait_s
                ),
                Some("header Authorization"),
            )
            .into_response();
            let retry = wait_s.ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limits = Limits {
            burst: 3.0,
            per_second: 2.0,
            ..Limits::default()
        };
        let t0 = Instant::now();
        let mut b = Bucket::full(&limits, t0);
        for _ in 0..3 {
            assert!(b.take(&limits, t0).is_ok());
        }
        let wait = b.take(&limits, t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        assert!(b.take(&limits, t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take(&limits, t0 + Duration::from_millis(500)).is_err());
        assert!(b.take(&limits, t0 + Duration::from_secs(60)).is_ok());
    }
}
