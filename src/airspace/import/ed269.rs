//! EUROCAE ED-269 zone files, following the InterUSS `uas_standards` model:
//! `{features: [UASZoneVersion]}`. Each (geometry, applicability) pair of a
//! feature becomes one zone; when a feature has more than one, their ids get
//! a `-N` suffix. Positions are [lon, lat] as in the published sample.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use serde_json::Value;

use super::validate;
use super::ImportError;
use crate::airspace::band::{AltitudeReference, Band};
use crate::airspace::schedule::{Applicability, Schedule};
use crate::airspace::zone::{Zone, ZoneKind, ZoneShape};

const FOOT_M: f64 = 0.3048;

pub fn import(root: &Value) -> Result<Vec<Zone>, ImportError> {
    let features = root["features"]
        .as_array()
        .ok_or_else(|| ImportError::file("no `features` array"))?;
    let mut results = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let id = f["identifier"].as_str().unwrap_or("");
        let at = format!("features[{i}] `{id}`");
        match zones_of_feature(f) {
            Ok(zones) => results.extend(zones.into_iter().map(|z| (at.clone(), Ok(z)))),
            Err(e) => results.push((at, Err(e))),
        }
    }
    super::collect(results)
}

fn zones_of_feature(f: &Value) -> Result<Vec<Zone>, Vec<String>> {
    let mut problems = Vec::new();
    let id = f["identifier"].as_str().unwrap_or("").to_owned();
    if id.is_empty() {
        problems.push("a zone needs an identifier".to_string());
    }
    let kind = match f["restriction"].as_str() {
        Some("PROHIBITED") => Some(ZoneKind::Prohibited),
        Some("REQ_AUTHORISATION") => Some(ZoneKind::AuthorisationRequired),
        Some("CONDITIONAL") => Some(ZoneKind::Conditional),
        Some("NO_RESTRICTION") => Some(ZoneKind::Advisory),
        _ => {
            problems.push(format!(
                "restriction must be PROHIBITED, REQ_AUTHORISATION, CONDITIONAL or NO_RESTRICTION, found {}",
                f["restriction"]
            ));
            None
        }
    };
    let mut reason: Vec<String> = f["reason"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(m) = f["message"].as_str() {
        reason.push(m.to_owned());
    }
    let geometries: Vec<(Band, ZoneShape)> = match f["geometry"].as_array() {
        Some(g) if !g.is_empty() => g
            .iter()
            .enumerate()
            .filter_map(|(k, g)| {
                geometry(g)
                    .map_err(|e| problems.push(format!("geometry[{k}]: {e}")))
                    .ok()
            })
            .collect(),
        _ => {
            problems.push("empty geometry: `geometry` must be a non-empty array".into());
            Vec::new()
        }
    };
    let times: Vec<Applicability> = match f["applicability"].as_array() {
        None => vec![Applicability::permanent()],
        Some(a) if a.is_empty() => vec![Applicability::permanent()],
        Some(a) => a
            .iter()
            .enumerate()
            .filter_map(|(k, a)| {
                applicability(a)
                    .map_err(|e| problems.push(format!("applicability[{k}]: {e}")))
                    .ok()
            })
            .collect(),
    };
    let Some(kind) = kind.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    let many = geometries.len() * times.len() > 1;
    let mut zones = Vec::new();
    for (band, shape) in &geometries {
        for time in &times {
            zones.push(Zone {
                id: if many {
                    format!("{id}-{}", zones.len() + 1)
                } else {
                    id.clone()
                },
                name: f["name"].as_str().unwrap_or(&id).to_owned(),
                reason: reason.join("; "),
                kind,
                shape: shape.clone(),
                band: *band,
                time: time.clone(),
            });
        }
    }
    Ok(zones)
}

fn limit(g: &Value, key: &str, scale: f64) -> Result<f64, String> {
    match &g[key] {
        Value::Number(n) => n
            .as_f64()
            .map(|v| v * scale)
            .ok_or_else(|| format!("{key} is not a number")),
        other => Err(format!("{key} must be a number, found {other}")),
    }
}

fn geometry(g: &Value) -> Result<(Band, ZoneShape), String> {
    let scale = match g["uomDimensions"].as_str() {
        Some("M") | None => 1.0,
        Some("FT") => FOOT_M,
        Some(other) => return Err(format!("uomDimensions must be M or FT, found `{other}`")),
    };
    let reference = |key: &str| -> Result<AltitudeReference, String> {
        let text = g[key].as_str().ok_or_else(|| format!("{key} is missing"))?;
        AltitudeReference::parse(text)
            .ok_or_else(|| format!("{key} must be AGL, AMSL or WGS84, found `{text}`"))
    };
    let (lower_ref, upper_ref) = (
        reference("lowerVerticalReference")?,
        reference("upperVerticalReference")?,
    );
    if lower_ref != upper_ref {
        return Err(format!(
            "lower ({}) and upper ({}) vertical references differ; skyshare needs one datum per band",
            lower_ref.as_str(),
            upper_ref.as_str()
        ));
    }
    let band = Band::new(
        limit(g, "lowerLimit", scale)?,
        limit(g, "upperLimit", scale)?,
        lower_ref,
    )
    .map_err(|e| format!("band: {e}"))?;
    let h = &g["horizontalProjection"];
    let shape = match h["type"].as_str() {
        Some("Polygon") => {
            let rings = h["coordinates"]
                .as_array()
                .filter(|r| !r.is_empty())
                .ok_or("empty geometry: Polygon without rings")?;
            let mut parsed = Vec::new();
            for (i, ring) in rings.iter().enumerate() {
                let positions = ring
                    .as_array()
                    .ok_or_else(|| format!("ring {i} is not an array"))?
                    .iter()
                    .map(validate::geojson_position)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("ring {i}: {e}"))?;
                parsed.push(validate::ring(positions, true).map_err(|e| format!("ring {i}: {e}"))?);
            }
            let exterior = parsed.remove(0);
            ZoneShape::Polygon {
                exterior,
                holes: parsed,
            }
        }
        Some("Circle") => {
            let center = validate::geojson_position(&h["center"])
                .map_err(|e| format!("circle center: {e}"))?;
            let radius_m = match &h["radius"] {
                Value::Number(n) => n.as_f64().filter(|r| r.is_finite() && *r > 0.0),
                _ => None,
            }
            .ok_or("a Circle needs a positive radius")?
                * scale;
            ZoneShape::Circle { center, radius_m }
        }
        other => {
            return Err(format!(
                "horizontalProjection.type must be Polygon or Circle, found {other:?}"
            ))
        }
    };
    Ok((band, shape))
}

/// "17:00:00.00Z", "17:00:00", "17:00"; a trailing Z (or none) means UTC.
fn clock(text: &str) -> Option<NaiveTime> {
    let t = text.trim_end_matches('Z');
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
}

fn applicability(a: &Value) -> Result<Applicability, String> {
    if a["permanent"] == "YES" {
        return Ok(Applicability::permanent());
    }
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        match a[key].as_str() {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| format!("{key} `{s}`: {e}")),
        }
    };
    let (start, end) = (time("startDateTime")?, time("endDateTime")?);
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err(format!("startDateTime {s} is not before endDateTime {e}"));
        }
    }
    let mut weekly = Vec::new();
    for (k, s) in a["schedule"].as_array().into_iter().flatten().enumerate() {
        let mut days = Vec::new();
        for d in s["day"].as_array().into_iter().flatten() {
            match d.as_str() {
                Some("ANY") => days.extend([
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ]),
                Some(text) => days.push(
                    text.parse::<Weekday>()
                        .map_err(|_| format!("schedule[{k}].day: `{text}` is not a weekday"))?,
                ),
                None => return Err(format!("schedule[{k}].day: {d} is not a weekday")),
            }
        }
        if days.is_empty() {
            return Err(format!("schedule[{k}] has no day"));
        }
        let parse = |key: &str| {
            s[key].as_str().and_then(clock).ok_or_else(|| {
                format!(
                    "schedule[{k}].{key} must be a time like \"17:00:00.00Z\", found {}",
                    s[key]
                )
            })
        };
        let (st, en) = (parse("startTime")?, parse("endTime")?);
        // An endTime before the startTime closes the next day.
        if st == en {
            return Err(format!("schedule[{k}]: startTime equals endTime"));
        }
        weekly.push(Schedule {
            days,
            start: st,
            end: en,
            offset: Some(FixedOffset::east_opt(0).expect("UTC")),
        });
    }
    if start.is_none() && end.is_none() && weekly.is_empty() {
        return Err("permanent is not YES and there is no start, end or schedule".into());
    }
    Ok(Applicability { start, end, weekly })
}
