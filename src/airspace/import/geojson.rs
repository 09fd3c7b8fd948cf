//! GeoJSON (RFC 7946) zones: one Feature per zone, a Polygon (holes allowed)
//! or a Point with `radius_m` for a circle. Properties:
//! `id` (required here or as the Feature's own `id`), `name`, `reason`, `kind` (prohibited,
//! authorisation_required, conditional, advisory, operating_area),
//! `floor_m` (default 0), `ceiling_m` (default unlimited), `reference`
//! (AGL default, AMSL, WGS84), `start`/`end` (RFC 3339), `schedule` (one
//! `{days, start, end, utc_offset_minutes?}` or an array of them; local time
//! unless an offset is given). The older region
//! kind `altitude_limit` with `ceiling_m` reads as prohibited above it.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::validate;
use super::ImportError;
use crate::airspace::band::{AltitudeReference, Band};
use crate::airspace::schedule::{Applicability, Schedule};
use crate::airspace::zone::{Zone, ZoneKind, ZoneShape};

pub fn import(root: &Value) -> Result<Vec<Zone>, ImportError> {
    let features = root["features"]
        .as_array()
        .ok_or_else(|| ImportError::file("no `features` array"))?;
    // A skyshare region file is read as zones too: its docks are not zones,
    // and its boundary is the operating area.
    let results = features
        .iter()
        .enumerate()
        .filter(|(_, f)| f["properties"]["role"] != "dock")
        .map(|(i, f)| {
            let mut props = f["properties"].clone();
            if let Some(id) = feature_id(f) {
                if props["id"].is_null() && (props.is_object() || props.is_null()) {
                    props["id"] = Value::from(id);
                }
            }
            if props["role"] == "boundary" {
                props["kind"] = Value::from("operating_area");
            }
            let id = props["id"].as_str().unwrap_or("");
            (
                format!("features[{i}] `{id}`"),
                zone_from_feature(&props, &f["geometry"]),
            )
        })
        .collect();
    super::collect(results)
}

/// The Feature's own identifier (RFC 7946 section 3.2: a string or a
/// number), read where its properties carry no `id`.
fn feature_id(feature: &Value) -> Option<String> {
    match &feature["id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One feature's zone, or every reason it is not one.
pub fn zone_from_feature(props: &Value, geometry: &Value) -> Result<Zone, Vec<String>> {
    let mut problems = Vec::new();
    let id = props["id"].as_str().unwrap_or("").to_owned();
    if id.is_empty() {
        problems.push("a zone needs an id: the Feature's `id` or properties.id".to_string());
    }
    let name = props["name"].as_str().unwrap_or(&id).to_owned();
    let legacy = props["kind"] == "altitude_limit";
    let kind = match props["kind"].as_str() {
        Some("altitude_limit") => Some(ZoneKind::Prohibited),
        Some(k) => ZoneKind::parse(k),
        None => None,
    };
    if kind.is_none() {
        problems.push(format!(
            "properties.kind must be prohibited, authorisation_required, conditional, advisory or operating_area, found {}",
            props["kind"]
        ));
    }
    let band = band(props, legacy).map_err(|e| problems.push(e)).ok();
    let time = applicability(props).map_err(|e| problems.push(e)).ok();
    let shape = shape(geometry, props).map_err(|e| problems.push(e)).ok();
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
            "properties.{key} must be a number of metres, found {other}"
        )),
    }
}

fn band(props: &Value, legacy: bool) -> Result<Band, String> {
    let reference = match props.get("reference").and_then(Value::as_str) {
        None => AltitudeReference::Agl,
        Some(r) => AltitudeReference::parse(r).ok_or_else(|| {
            format!("properties.reference must be AGL, AMSL or WGS84, found `{r}`")
        })?,
    };
    if legacy {
        let ceiling = optional_number(props, "ceiling_m")?
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or("an altitude_limit zone needs a non-negative ceiling_m")?;
        return Band::new(ceiling, f64::INFINITY, reference).map_err(|e| e.to_string());
    }
    let floor = optional_number(props, "floor_m")?.unwrap_or(0.0);
    let ceiling = optional_number(props, "ceiling_m")?.unwrap_or(f64::INFINITY);
    Band::new(floor, ceiling, reference).map_err(|e| format!("band: {e}"))
}

fn time(props: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| format!("properties.{key} `{s}` is not an RFC 3339 time: {e}")),
        Some(other) => Err(format!(
            "properties.{key} must be an RFC 3339 time, found {other}"
        )),
    }
}

fn applicability(props: &Value) -> Result<Applicability, String> {
    let start = time(props, "start")?;
    let end = time(props, "end")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err(format!(
                "properties.start {s} is not before properties.end {e}"
            ));
        }
    }
    let weekly = match props.get("schedule") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(Schedule::from_json)
            .collect::<Result<_, _>>()?,
        Some(one) => vec![Schedule::from_json(one)?],
    };
    Ok(Applicability { start, end, weekly })
}

fn rings(value: &Value) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let rings = value
        .as_array()
        .ok_or("Polygon coordinates must be an array of rings")?;
    if rings.is_empty() {
        return Err("empty geometry: a Polygon needs at least one ring".into());
    }
    rings
        .iter()
        .enumerate()
        .map(|(i, ring)| {
            let positions = ring
                .as_array()
                .ok_or_else(|| format!("ring {i} is not an array"))?
                .iter()
                .map(validate::geojson_position)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("ring {i}: {e}"))?;
            validate::ring(positions, true).map_err(|e| format!("ring {i}: {e}"))
        })
        .collect()
}

fn shape(geometry: &Value, props: &Value) -> Result<ZoneShape, String> {
    match geometry["type"].as_str() {
        Some("Polygon") => {
            let mut rings = rings(&geometry["coordinates"])?;
            let exterior = rings.remove(0);
            Ok(ZoneShape::Polygon { exterior, holes: rings })
        }
        Some("Point") => {
            let center = validate::geojson_position(&geometry["coordinates"]).map_err(|e| format!("empty or bad Point: {e}"))?;
            let radius_m = optional_number(props, "radius_m")?
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or("a circular zone (Point geometry) needs a positive properties.radius_m")?;
            Ok(ZoneShape::Circle { center, radius_m })
        }
        Some(other) => Err(format!("geometry type {other} is not a zone; use Polygon, or Point with radius_m (one feature per polygon)")),
        None => Err("empty geometry: missing or null `geometry`".into()),
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
