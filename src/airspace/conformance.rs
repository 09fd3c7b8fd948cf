//! Conformance monitoring: one live position of a flight against its
//! planned 4D volumes and the zones. Pure and cheap (a few microseconds: a
//! grid lookup and a handful of distance tests), so running it on every
//! telemetry message detects a deviation within one telemetry period — well
//! under one second at the fleet's 1 Hz or faster position rate.
//!
//! Also: which planned flights a new (temporary) zone affects.

use chrono::{DateTime, Utc};

use super::deconflict::Intent;
use super::geom::{leg_intervals, point_segment_distance};
use super::index::{AirspaceFrame, ZoneIndex};
use super::zone::{Zone, ZoneKind};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lon: f64,
    pub lat: f64,
    pub alt_agl_m: f64,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// Not inside any of the flight's volumes active now. `distance_m`:
    /// lateral distance to the nearest volume active now (None: none is).
    /// `on_route`: inside one of its volumes of another time, so on its
    /// way but ahead of or behind its plan, not off it.
    OutsideVolume {
        distance_m: Option<f64>,
        on_route: bool,
    },
    /// Inside a zone that refuses flight (prohibited, or authorisation
    /// required and not held).
    InZone { zone_id: String, kind: ZoneKind },
    /// Within the alert distance of such a zone.
    NearZone { zone_id: String, distance_m: f64 },
    /// Outside every operating area.
    OutsideOperatingArea,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceConfig {
    /// Alert when a refusing zone is this close (laterally).
    pub proximity_alert_m: f64,
    pub authorisations: Vec<String>,
}

/// Every alert for this position, most serious first.
pub fn assess(
    flight: &Intent,
    index: &ZoneIndex,
    pos: &Position,
    cfg: &ConformanceConfig,
) -> Vec<Alert> {
    let frame = *index.frame();
    let p = frame.local.to_local(pos.lon, pos.lat);
    let mut alerts = Vec::new();
    let mut nearest: Option<f64> = None;
    let mut inside = false;
    for v in flight
        .volumes
        .iter()
        .filter(|v| v.start <= pos.time && pos.time <= v.end)
    {
        let d = point_segment_distance(p, v.a, v.b);
        if d <= v.radius_m && pos.alt_agl_m >= v.alt_low_m && pos.alt_agl_m <= v.alt_high_m {
            inside = true;
            break;
        }
        nearest = Some(nearest.map_or(d, |n: f64| n.min(d)));
    }
    if !inside {
        let on_route = flight.volumes.iter().any(|v| {
            point_segment_distance(p, v.a, v.b) <= v.radius_m
                && pos.alt_agl_m >= v.alt_low_m
                && pos.alt_agl_m <= v.alt_high_m
        });
        alerts.push(Alert::OutsideVolume {
            distance_m: nearest,
            on_route,
        });
    }
    let mut near = Vec::new();
    index.zones_near(p, cfg.proximity_alert_m, &mut near);
    near.sort_unstable();
    let mut in_area = false;
    let mut has_area = false;
    for &z in index.operating_areas() {
        has_area = true;
        if index.shape(z).contains(p) {
            in_area = true;
        }
    }
    if has_area && !in_area {
        alerts.push(Alert::OutsideOperatingArea);
    }
    for z in near {
        let zone = index.zone(z);
        let refuses = match zone.kind {
            ZoneKind::Prohibited => true,
            ZoneKind::AuthorisationRequired => !cfg.authorisations.contains(&zone.id),
            _ => false,
        };
        let (floor, ceiling) = index.band_agl(z);
        if !refuses
            || pos.alt_agl_m < floor
            || pos.alt_agl_m > ceiling
            || !zone.time.active_at(pos.time, frame.utc_offset)
        {
            continue;
        }
        let d = index.shape(z).distance(p);
        alerts.push(if d == 0.0 {
            Alert::InZone {
                zone_id: zone.id.clone(),
                kind: zone.kind,
            }
        } else {
            Alert::NearZone {
                zone_id: zone.id.clone(),
                distance_m: d,
            }
        });
    }
    alerts
}

/// The flights (intent ids, with their 1-based legs) whose volumes meet
/// `zone` in space, altitude and time: those a new restriction affects.
pub fn affected_by(
    zone: &Zone,
    frame: &AirspaceFrame,
    intents: &[Intent],
) -> Vec<(String, Vec<usize>)> {
    let shape = zone.shape.to_planar(&frame.local);
    let (floor, ceiling) = zone.band.agl(&frame.vertical);
    intents
        .iter()
        .filter_map(|intent| {
            let legs: Vec<usize> = intent
                .volumes
                .iter()
                .enumerate()
                // Every leg of the plan counts, flown or not: a leg's
                // times are the plan's, and a drone late on its plan has
                // not flown a leg whose planned end has passed. Over-
                // listing recalls a flight for nothing; under-listing
                // would let one fly into the restriction.
                .filter(|(_, v)| {
                    v.alt_low_m <= ceiling
                        && v.alt_high_m >= floor
                        && zone
                            .time
                            .first_active(v.start, v.end, frame.utc_offset)
                            .is_some()
                        && !leg_intervals(v.a, v.b, &shape, v.radius_m).is_empty()
                })
                .map(|(i, _)| i + 1)
                .collect();
            (!legs.is_empty()).then(|| (intent.id.clone(), legs))
        })
        .collect()
}
