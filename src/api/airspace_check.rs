//! The pre-submit airspace check: the same body as `POST /api/v1/tasks`,
//! answered with the flight the dispatcher would plan for it now (from the
//! nearest dock, a survey's sorties one after the other) and every conflict
//! of that route with the zones in force, leg by leg, so the console can
//! draw the offending leg and zone before anything is submitted. Nothing is
//! stored.
//!
//! The verdict uses what the scheduler uses when it launches: the region's
//! zones plus the temporary restrictions in force (`region_now`), the route
//! flown at the request's altitude, evenly in time over the planned flight
//! time from the window's start (or now), and the default lateral buffer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use geo::Point;
use serde_json::{json, Value};

use super::error::{parse_body, ApiError};
use crate::airspace::{self, CheckOptions, LegConflict, Waypoint};
use crate::auth::Caller;
use crate::dispatcher::Dispatcher;
use crate::region::Region;
use crate::task::TaskRequest;

/// What is checked: the planned flight and where it starts.
pub struct PlannedFlight<'a> {
    /// Lon/lat points from the dock and back.
    pub route: &'a [Point],
    pub alt_agl_m: f64,
    pub start: DateTime<Utc>,
    pub duration_s: f64,
    pub dock_id: &'a str,
    /// The request's own positions (a point, an area's corners, a
    /// corridor's vertices): each must be somewhere the fleet may fly.
    pub positions: &'a [Point],
}

pub async fn check(
    State(dispatcher): State<Arc<Dispatcher>>,
    _caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: TaskRequest = parse_body(&body)?;
    let invalid = |e: crate::task::FieldError| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_task",
            e.message,
            Some(e.field),
        )
    };
    request.validate().map_err(invalid)?;
    let now = Utc::now();
    request.check_window(now).map_err(invalid)?;
    let (route, alt_agl_m, duration_s, dock_id) =
        dispatcher.planned_flight(&request).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unplannable",
                format!("no flight can be planned for it: {e}"),
                Some("geometry"),
            )
        })?;
    let start = request
        .window
        .and_then(|w| w.start)
        .map_or(now, |s| s.max(now));
    let positions = request.positions();
    let answer = check_flight(
        &dispatcher.region_now(),
        &PlannedFlight {
            route: &route,
            alt_agl_m,
            start,
            duration_s,
            dock_id: &dock_id,
            positions: &positions,
        },
    );
    tracing::debug!(
        ok = answer["ok"].as_bool(),
        dock = dock_id,
        "airspace check"
    );
    Ok(Json(answer).into_response())
}

/// The check's answer for a planned flight over `region`; pure.
pub fn check_flight(region: &Region, flight: &PlannedFlight<'_>) -> Value {
    let index = airspace::region_index(region);
    let frame = index.frame().local;
    let lengths: Vec<f64> = flight
        .route
        .windows(2)
        .map(|w| {
            frame
                .to_local(w[0].x(), w[0].y())
                .distance(frame.to_local(w[1].x(), w[1].y()))
        })
        .collect();
    let total_m: f64 = lengths.iter().sum();
    // Waypoint times spread over the flight in proportion to distance, as
    // the scheduler's own check does.
    let mut travelled = 0.0;
    let waypoints: Vec<Waypoint> = flight
        .route
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i > 0 {
                travelled += lengths[i - 1];
            }
            let f = if total_m > 0.0 {
                travelled / total_m
            } else {
                0.0
            };
            Waypoint {
                lon: p.x(),
                lat: p.y(),
                alt_agl_m: flight.alt_agl_m,
                time: flight.start
                    + Duration::milliseconds((flight.duration_s * 1000.0 * f) as i64),
            }
        })
        .collect();
    let found = index.check_route(&waypoints, &CheckOptions::default());
    let conflicts: Vec<Value> = found
        .iter()
        .map(|c| conflict_json(c, flight.route))
        .collect();
    let blocking: Vec<&LegConflict> = found.iter().filter(|c| c.is_blocking()).collect();
    // A position refused on its own (inside a zone, outside the region) is
    // what `POST /api/v1/tasks` answers first; say it even when the route's
    // legs already show the zone.
    let point_refusal = flight.positions.iter().enumerate().find_map(|(i, at)| {
        airspace::check_point(region, *at, flight.alt_agl_m, flight.start)
            .err()
            .map(|r| {
                if i == 0 {
                    r.to_string()
                } else {
                    format!("position {i}: {r}")
                }
            })
    });
    let ok = blocking.is_empty() && point_refusal.is_none();
    let summary = format!(
        "the planned flight from dock {} ({} legs, {:.1} km, about {:.0} min at {:.0} m)",
        flight.dock_id,
        flight.route.len().saturating_sub(1),
        total_m / 1000.0,
        flight.duration_s / 60.0,
        flight.alt_agl_m
    );
    let explanation = if ok {
        let notices = found.len();
        if notices == 0 {
            format!("{summary} crosses no zone in force")
        } else {
            format!("{summary} may be flown; {notices} notice(s) for the pilot")
        }
    } else {
        let mut reasons: Vec<String> = point_refusal.into_iter().collect();
        reasons.extend(blocking.iter().map(|c| c.to_string()));
        format!("{summary} would be refused: {}", reasons.join("; "))
    };
    json!({
        "ok": ok,
        "route": line_string(flight.route),
        "conflicts": conflicts,
        "explanation": explanation,
    })
}

fn conflict_json(c: &LegConflict, route: &[Point]) -> Value {
    // Leg n goes from waypoint n - 1 to waypoint n.
    let leg = &route[c.leg.saturating_sub(1)..=c.leg.min(route.len() - 1)];
    json!({
        "leg": c.leg,
        "zone_id": c.zone.id,
        "zone_kind": c.zone.kind.as_str(),
        "blocking": c.is_blocking(),
        "explanation": c.to_string(),
        "leg_geometry": line_string(leg),
    })
}

fn line_string(points: &[Point]) -> Value {
    let coordinates: Vec<[f64; 2]> = points.iter().map(|p| [p.x(), p.y()]).collect();
    json!({"type": "LineString", "coordinates": coordinates})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight<'a>(route: &'a [Point], positions: &'a [Point]) -> PlannedFlight<'a> {
        PlannedFlight {
            route,
            alt_agl_m: 40.0,
            start: Utc::now(),
            duration_s: 600.0,
            dock_id: "dock-test",
            positions,
        }
    }

    #[test]
    fn a_route_through_the_hospital_names_the_leg_and_the_zone() {
        let region = Region::demo();
        let dock = region.docks[0].position;
        // The hospital's prohibited zone (Z-HOSP) is around this point.
        let hospital = Point::new(114.408, 30.5015);
        let route = [dock, hospital, dock];
        let answer = check_flight(&region, &flight(&route, &[hospital]));
        assert_eq!(answer["ok"], false, "{answer}");
        let conflicts = answer["conflicts"].as_array().unwrap();
        let hosp = conflicts
            .iter()
            .find(|c| c["zone_id"] == "Z-HOSP")
            .unwrap_or_else(|| panic!("Z-HOSP not named: {answer}"));
        assert_eq!(hosp["zone_kind"], "prohibited");
        let leg = hosp["leg"].as_u64().unwrap() as usize;
        assert!(leg == 1 || leg == 2, "{hosp}");
        let coords = hosp["leg_geometry"]["coordinates"].as_array().unwrap();
        assert_eq!(coords.len(), 2, "a leg is one segment: {hosp}");
        assert_eq!(coords[0], json!([route[leg - 1].x(), route[leg - 1].y()]));
        assert!(answer["explanation"].as_str().unwrap().contains("Z-HOSP"));
        assert_eq!(answer["route"]["type"], "LineString");
        assert_eq!(answer["route"]["coordinates"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_short_hop_beside_the_dock_is_clear() {
        let region = Region::demo();
        let dock = region.docks[0].position;
        let near = Point::new(dock.x() + 0.0005, dock.y() - 0.0005);
        let route = [dock, near, dock];
        let answer = check_flight(&region, &flight(&route, &[near]));
        assert_eq!(answer["ok"], true, "{answer}");
        assert!(answer["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["blocking"] == false));
        assert!(answer["explanation"]
            .as_str()
            .unwrap()
            .starts_with("the planned flight from dock dock-test (2 legs"));
    }

    #[test]
    fn a_position_outside_the_region_is_refused_with_its_reason() {
        let region = Region::demo();
        let dock = region.docks[0].position;
        let outside = Point::new(114.30, 30.50);
        let route = [dock, outside, dock];
        let answer = check_flight(&region, &flight(&route, &[outside]));
        assert_eq!(answer["ok"], false, "{answer}");
        assert!(
            answer["explanation"]
                .as_str()
                .unwrap()
                .contains("outside the operating area"),
            "{answer}"
        );
    }
}
