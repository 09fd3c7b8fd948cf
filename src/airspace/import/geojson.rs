//! GeoJSON (RFC 7946) zones: a FeatureCollection, or a bare Feature for a
//! one-zone file. One Feature per zone, a Polygon (holes allowed, strictly
//! inside the exterior) or a Point with `radius_m` for a circle (at most
//! 1,000 km: [`validate::MAX_RADIUS_M`]). Properties: `id` (required here
//! or as the Feature's own `id`), `name`, `reason`, `kind` (prohibited,
//! authorisation_required, conditional, advisory, operating_area; any case),
//! `floor_m` (default 0), `ceiling_m` (default unlimited; not equal to the
//! floor; both within 100 km of the datum: [`validate::MAX_ALTITUDE_M`]),
//! `reference` (AGL default, AMSL, WGS84; any case), `start`/`end`
//! (RFC 3339), `schedule` (one `{days, start, end, utc_offset_minutes?}` or
//! a non-empty array of them, each with at least one day; local time
//! unless an offset is given; omit it for a zone that always applies). The
//! older region kind `altitude_limit` with `ceiling_m` reads as prohibited
//! above it.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use serde_json::{json, Map, Value};

use super::validate::{self, show};
use super::ImportError;
use crate::airspace::band::{AltitudeReference, Band};
use crate::airspace::schedule::{Applicability, Schedule};
use crate::airspace::zone::{Zone, ZoneKind, ZoneShape};

pub fn import(root: &Value) -> Result<Vec<Zone>, ImportError> {
    // RFC 7946 lets a file be a single Feature: a one-zone file.
    let bare = root["type"] == "Feature";
    let single;
    let features: &[Value] = if bare {
        single = [root.clone()];
        &single
    } else {
        match root.get("features") {
            Some(Value::Array(f)) => f,
            Some(other) => {
                return Err(ImportError::file(format!(
                    "`features` must be an array of Features, found {}",
                    show(other)
                )))
            }
            None => return Err(ImportError::file("no `features` array")),
        }
    };
    let place = |i: usize, id: &str| {
        if bare {
            format!("feature `{id}`")
        } else {
            format!("features[{i}] `{id}`")
        }
    };
    // A skyshare region file is read as zones too: its docks are not zones,
    // and its boundary is the operating area.
    let results = features
        .iter()
        .enumerate()
        .filter(|(_, f)| f["properties"]["role"] != "dock")
        .map(|(i, f)| {
            if !f.is_object() {
                return (
                    place(i, ""),
                    Err(vec![format!(
                        "a feature must be a GeoJSON Feature object, found {}",
                        show(f)
                    )]),
                );
            }
            let mut props = f["properties"].clone();
            let own_id = id_text(&f["id"]);
            if let Some(id) = &own_id {
                if props["id"].is_null() && (props.is_object() || props.is_null()) {
                    props["id"] = Value::from(id.clone());
                }
            }
            if props["role"] == "boundary" {
                props["kind"] = Value::from("operating_area");
            }
            let id = id_text(&props["id"]).or(own_id).unwrap_or_default();
            (place(i, &id), zone_from_feature(&props, &f["geometry"]))
        })
        .collect();
    super::collect(results)
}

/// An identifier as written: a string or a number (RFC 7946 section 3.2
/// allows both for a Feature's own `id`; `properties.id` is read alike).
fn id_text(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Collects an error list into `problems`, keeping the value if there was none.
fn keep<T>(r: Result<T, Vec<String>>, problems: &mut Vec<String>) -> Option<T> {
    r.map_err(|e| problems.extend(e)).ok()
}

/// One feature's zone, or every reason it is not one.
pub fn zone_from_feature(props: &Value, geometry: &Value) -> Result<Zone, Vec<String>> {
    let mut problems = Vec::new();
    if !props.is_object() && !props.is_null() {
        // Id, kind, band and time all live in properties: report that, and
        // the geometry, which stands on its own (a circle's radius does not).
        problems.push(format!(
            "properties must be an object, found {}",
            show(props)
        ));
        if geometry["type"] != "Point" {
            keep(shape(geometry, &Value::Null), &mut problems);
        }
        return Err(problems);
    }
    let id = id_text(&props["id"]).unwrap_or_default();
    if id.is_empty() {
        problems.push("a zone needs an id: the Feature's `id` or properties.id".to_string());
    }
    let name = props["name"].as_str().unwrap_or(&id).to_owned();
    // Kinds are read in any case, as references are.
    let kind_text = props["kind"].as_str().map(str::to_ascii_lowercase);
    let legacy = kind_text.as_deref() == Some("altitude_limit");
    let kind = match kind_text.as_deref() {
        Some("altitude_limit") => Some(ZoneKind::Prohibited),
        Some(k) => ZoneKind::parse(k),
        None => None,
    };
    if kind.is_none() {
        problems.push(format!(
            "properties.kind must be prohibited, authorisation_required, conditional, advisory or operating_area, found {}",
            show(&props["kind"])
        ));
    }
    let band = keep(band(props, legacy), &mut problems);
    let time = keep(applicability(props), &mut problems);
    let shape = keep(shape(geometry, props), &mut problems);
    match (kind, band, time, shape) {
        (Some(kind), Some(band), Some(time), Some(shape)) if problems.is_empty() => Ok(Zone {
            id,
            name,
            reason: props["reason"].as_str().unwrap_or("").to_owned(),
            kind,
            shape,
            band,
            time,
        }),
        _ => Err(problems),
    }
}

fn optional_number(props: &Value, key: &str) -> Result<Option<f64>, String> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(format!(
            "properties.{key} must be a number of metres, found {}",
            show(other)
        )),
    }
}

fn band(props: &Value, legacy: bool) -> Result<Band, Vec<String>> {
    let mut problems = Vec::new();
    let reference = match props.get("reference") {
        None | Some(Value::Null) => Some(AltitudeReference::Agl),
        Some(r) => {
            let parsed = r.as_str().and_then(AltitudeReference::parse);
            if parsed.is_none() {
                problems.push(format!(
                    "properties.reference must be AGL, AMSL or WGS84, found {}",
                    show(r)
                ));
            }
            parsed
        }
    };
    let mut read = |key: &str| {
        optional_number(props, key)
            .map_err(|e| problems.push(e))
            .ok()
    };
    let band = if legacy {
        let ceiling = read("ceiling_m");
        let ceiling = ceiling.map(|c| c.filter(|c| c.is_finite() && *c >= 0.0));
        if ceiling == Some(None) {
            problems.push("an altitude_limit zone needs a non-negative ceiling_m".into());
        }
        match (ceiling.flatten(), reference) {
            (Some(c), Some(r)) => Some(validate::band(c, f64::INFINITY, r)),
            _ => None,
        }
    } else {
        let floor = read("floor_m");
        let ceiling = read("ceiling_m");
        match (floor, ceiling, reference) {
            (Some(f), Some(c), Some(r)) => Some(validate::band(
                f.unwrap_or(0.0),
                c.unwrap_or(f64::INFINITY),
                r,
            )),
            _ => None,
        }
    };
    match band {
        Some(Ok(b)) if problems.is_empty() => Ok(b),
        Some(Err(e)) => {
            problems.push(e);
            Err(problems)
        }
        _ => Err(problems),
    }
}

fn time(props: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("properties.{key} `{s}` is not an RFC 3339 time: {e}")),
        Some(other) => Err(format!(
            "properties.{key} must be an RFC 3339 time, found {}",
            show(other)
        )),
    }
}

fn applicability(props: &Value) -> Result<Applicability, Vec<String>> {
    let mut problems = Vec::new();
    let start = time(props, "start").map_err(|e| problems.push(e)).ok();
    let end = time(props, "end").map_err(|e| problems.push(e)).ok();
    if let (Some(Some(s)), Some(Some(e))) = (start, end) {
        if s >= e {
            problems.push(format!(
                "properties.start {s} is not before properties.end {e}"
            ));
        }
    }
    let weekly = match props.get("schedule") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.is_empty() => {
            problems.push(
                "properties.schedule is an empty array, so the zone would never apply; omit `schedule` for a zone that always applies"
                    .into(),
            );
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(k, s)| keep(schedule(s, &format!("schedule {k}")), &mut problems))
            .collect(),
        Some(one) => keep(schedule(one, "schedule"), &mut problems)
            .into_iter()
            .collect(),
    };
    match (start, end) {
        (Some(start), Some(end)) if problems.is_empty() => Ok(Applicability { start, end, weekly }),
        _ => Err(problems),
    }
}

/// One weekly window `{days, start, end, utc_offset_minutes?}`, with every
/// fault in it; `at` names it in messages.
fn schedule(value: &Value, at: &str) -> Result<Schedule, Vec<String>> {
    if !value.is_object() {
        return Err(vec![format!(
            "{at} must be an object {{days, start, end}}, found {}",
            show(value)
        )]);
    }
    let mut problems = Vec::new();
    let mut days = Vec::new();
    match &value["days"] {
        Value::Array(d) if d.is_empty() => problems.push(format!(
            "{at}: no days given; list the weekdays it applies on, like [\"MON\", \"TUE\"]"
        )),
        Value::Array(d) => {
            for day in d {
                match day.as_str().and_then(|s| s.parse::<Weekday>().ok()) {
                    Some(w) => days.push(w),
                    None => problems.push(format!("{at}: days: {} is not a weekday", show(day))),
                }
            }
        }
        other => problems.push(format!(
            "{at}: days must be an array like [\"MON\", \"TUE\"], found {}",
            show(other)
        )),
    }
    let mut clock = |key: &str| {
        let t = value[key]
            .as_str()
            .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok());
        if t.is_none() {
            problems.push(format!(
                "{at}: {key} must be a time like \"14:00\", found {}",
                show(&value[key])
            ));
        }
        t
    };
    let (start, end) = (clock("start"), clock("end"));
    if start.is_some() && start == end {
        problems.push(format!(
            "{at}: start and end must differ (an end before the start runs past midnight)"
        ));
    }
    let offset = match value.get("utc_offset_minutes") {
        None | Some(Value::Null) => None,
        Some(m) => {
            let o = m
                .as_i64()
                .and_then(|m| i32::try_from(m).ok())
                .and_then(|m| m.checked_mul(60))
                .and_then(FixedOffset::east_opt);
            if o.is_none() {
                problems.push(format!(
                    "{at}: utc_offset_minutes {} is not an offset in minutes",
                    show(m)
                ));
            }
            o
        }
    };
    match (start, end) {
        (Some(start), Some(end)) if problems.is_empty() => Ok(Schedule {
            days,
            start,
            end,
            offset,
        }),
        _ => Err(problems),
    }
}

fn shape(geometry: &Value, props: &Value) -> Result<ZoneShape, Vec<String>> {
    if !geometry.is_object() {
        return Err(vec![if geometry.is_null() {
            "empty geometry: missing or null `geometry`".to_string()
        } else {
            format!("geometry must be an object, found {}", show(geometry))
        }]);
    }
    match geometry["type"].as_str() {
        Some("Polygon") => {
            let (exterior, holes) = validate::polygon(&geometry["coordinates"])?;
            Ok(ZoneShape::Polygon { exterior, holes })
        }
        Some("Point") => {
            let mut problems = Vec::new();
            let center = validate::geojson_position(&geometry["coordinates"])
                .map_err(|e| problems.push(format!("empty or bad Point: {e}")))
                .ok();
            let radius = match optional_number(props, "radius_m") {
                Ok(Some(r)) if r.is_finite() && r > 0.0 => validate::radius_in_bound(
                    r,
                    &format!("properties.radius_m {} m", validate::num(r)),
                )
                .map_err(|e| problems.push(e))
                .ok(),
                Ok(r) => {
                    problems.push(format!(
                        "a circular zone (Point geometry) needs a positive properties.radius_m, found {}",
                        r.map_or("none".to_string(), validate::num)
                    ));
                    None
                }
                Err(e) => {
                    problems.push(e);
                    None
                }
            };
            match (center, radius) {
                (Some(center), Some(radius_m)) => Ok(ZoneShape::Circle { center, radius_m }),
                _ => Err(problems),
            }
        }
        Some(other) => Err(vec![format!("geometry type {other} is not a zone; use Polygon, or Point with radius_m (one feature per polygon)")]),
        None => Err(vec![format!(
            "geometry.type must be Polygon or Point, found {}",
            show(&geometry["type"])
        )]),
    }
}

fn close(ring: &[(f64, f64)]) -> Value {
    let mut v: Vec<Value> = ring.iter().map(|&(x, y)| json!([x, y])).collect();
    if let Some(&(x, y)) = ring.first() {
        v.push(json!([x, y]));
    }
    Value::Array(v)
}

/// The zones as a GeoJSON FeatureCollection that [`import`] reads back.
pub fn export(zones: &[Zone]) -> Value {
    let features: Vec<Value> = zones
        .iter()
        .map(|z| {
            let mut props = Map::new();
            props.insert("id".into(), json!(z.id));
            props.insert("name".into(), json!(z.name));
            props.insert("reason".into(), json!(z.reason));
            props.insert("kind".into(), json!(z.kind.as_str()));
            props.insert("floor_m".into(), json!(z.band.floor_m()));
            if z.band.ceiling_m().is_finite() {
                props.insert("ceiling_m".into(), json!(z.band.ceiling_m()));
            }
            props.insert("reference".into(), json!(z.band.reference().as_str()));
            if let Some(s) = z.time.start {
                props.insert("start".into(), json!(s.to_rfc3339()));
            }
            if let Some(e) = z.time.end {
                props.insert("end".into(), json!(e.to_rfc3339()));
            }
            if !z.time.weekly.is_empty() {
                props.insert(
                    "schedule".into(),
                    Value::Array(z.time.weekly.iter().map(Schedule::to_json).collect()),
                );
            }
            let geometry = match &z.shape {
                ZoneShape::Polygon { exterior, holes } => {
                    let mut rings = vec![close(exterior)];
                    rings.extend(holes.iter().map(|h| close(h)));
                    json!({"type": "Polygon", "coordinates": rings})
                }
                ZoneShape::Circle { center, radius_m } => {
                    props.insert("radius_m".into(), json!(radius_m));
                    json!({"type": "Point", "coordinates": [center.0, center.1]})
                }
            };
            json!({"type": "Feature", "id": z.id, "properties": Value::Object(props), "geometry": geometry})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}
