//! EUROCAE ED-269 zone files, following the InterUSS `uas_standards` model:
//! `{features: [UASZoneVersion]}`. Each (geometry, applicability) pair of a
//! feature becomes one zone; when a feature has more than one, their ids get
//! a `-N` suffix. Positions are [lon, lat] as in the published sample.
//! Polygon holes, bands and problem lists follow the shared checks in
//! [`validate`]: every fault of a feature is reported, not just the first;
//! limits beyond 100 km and circle radii beyond 1,000 km (after the unit)
//! are refused there. Reason codes are read into words, `OTHER` as its
//! `otherReasonInfo`.

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use serde_json::Value;

use super::validate::{self, show};
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
    if !f.is_object() {
        return Err(vec![format!(
            "a feature must be an ED-269 UASZoneVersion object, found {}",
            show(f)
        )]);
    }
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
    let reason = reason_text(f);
    let geometries: Vec<(Band, ZoneShape)> = match f["geometry"].as_array() {
        Some(g) if !g.is_empty() => g
            .iter()
            .enumerate()
            .filter_map(|(k, g)| {
                geometry(g)
                    .map_err(|e| {
                        problems.extend(e.into_iter().map(|e| format!("geometry[{k}]: {e}")))
                    })
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
                    .map_err(|e| {
                        problems.extend(e.into_iter().map(|e| format!("applicability[{k}]: {e}")))
                    })
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
                reason: reason.clone(),
                kind,
                shape: shape.clone(),
                band: *band,
                time: time.clone(),
            });
        }
    }
    Ok(zones)
}

/// The reason a person reads: each `reason` code in words, `OTHER` as the
/// `otherReasonInfo` text that explains it (that text is kept even without
/// the code), then the `message`; "; " between them. Codes skyshare does
/// not know are kept as written.
fn reason_text(f: &Value) -> String {
    let info = f["otherReasonInfo"]
        .as_str()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    let mut parts: Vec<String> = Vec::new();
    let mut info_used = false;
    for code in f["reason"].as_array().into_iter().flatten() {
        let Some(code) = code.as_str().map(str::trim).filter(|c| !c.is_empty()) else {
            continue;
        };
        let words = match code {
            "AIR_TRAFFIC" => "air traffic",
            "SENSITIVE" => "sensitive site",
            "PRIVACY" => "privacy",
            "POPULATION" => "population",
            "NATURE" => "nature",
            "NOISE" => "noise",
            "FOREIGN_TERRITORY" => "foreign territory",
            "EMERGENCY" => "emergency",
            "OTHER" => match info {
                Some(info) => {
                    info_used = true;
                    info
                }
                None => "other",
            },
            other => other,
        };
        if !parts.iter().any(|p| p == words) {
            parts.push(words.to_owned());
        }
    }
    if let Some(info) = info.filter(|_| !info_used) {
        parts.push(info.to_owned());
    }
    if let Some(m) = f["message"]
        .as_str()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        parts.push(m.to_owned());
    }
    parts.join("; ")
}

fn limit(g: &Value, key: &str, scale: f64) -> Result<f64, String> {
    match &g[key] {
        Value::Number(n) => n
            .as_f64()
            .map(|v| v * scale)
            .ok_or_else(|| format!("{key} is not a number")),
        other => Err(format!("{key} must be a number, found {}", show(other))),
    }
}

/// One geometry's band and shape, with every fault in it.
fn geometry(g: &Value) -> Result<(Band, ZoneShape), Vec<String>> {
    if !g.is_object() {
        return Err(vec![format!("must be an object, found {}", show(g))]);
    }
    let mut problems = Vec::new();
    let scale = match g["uomDimensions"].as_str() {
        Some("M") | None => Some(1.0),
        Some("FT") => Some(FOOT_M),
        Some(other) => {
            problems.push(format!("uomDimensions must be M or FT, found `{other}`"));
            None
        }
    };
    let mut reference = |key: &str| {
        let r = match g[key].as_str() {
            None => Err(format!("{key} is missing")),
            Some(text) => AltitudeReference::parse(text)
                .ok_or_else(|| format!("{key} must be AGL, AMSL or WGS84, found `{text}`")),
        };
        r.map_err(|e| problems.push(e)).ok()
    };
    let (lower_ref, upper_ref) = (
        reference("lowerVerticalReference"),
        reference("upperVerticalReference"),
    );
    let datum = match (lower_ref, upper_ref) {
        (Some(l), Some(u)) if l != u => {
            problems.push(format!(
                "lower ({}) and upper ({}) vertical references differ; skyshare needs one datum per band",
                l.as_str(),
                u.as_str()
            ));
            None
        }
        (Some(l), Some(_)) => Some(l),
        _ => None,
    };
    // The limits are read even when the unit is bad, to report them too.
    let mut limit = |key: &str| {
        limit(g, key, scale.unwrap_or(1.0))
            .map_err(|e| problems.push(e))
            .ok()
    };
    let (lower, upper) = (limit("lowerLimit"), limit("upperLimit"));
    let band = match (lower, upper, datum, scale) {
        (Some(l), Some(u), Some(r), Some(_)) => {
            validate::band(l, u, r).map_err(|e| problems.push(e)).ok()
        }
        _ => None,
    };
    let h = &g["horizontalProjection"];
    let shape = match h["type"].as_str() {
        Some("Polygon") => match validate::polygon(&h["coordinates"]) {
            Ok((exterior, holes)) => Some(ZoneShape::Polygon { exterior, holes }),
            Err(e) => {
                problems.extend(e);
                None
            }
        },
        Some("Circle") => {
            let center = validate::geojson_position(&h["center"])
                .map_err(|e| problems.push(format!("circle center: {e}")))
                .ok();
            let radius = match &h["radius"] {
                Value::Number(n) => n.as_f64().filter(|r| r.is_finite() && *r > 0.0),
                _ => None,
            };
            if radius.is_none() {
                problems.push(format!(
                    "a Circle needs a positive radius, found {}",
                    show(&h["radius"])
                ));
            }
            let unit = if scale == Some(FOOT_M) { "FT" } else { "M" };
            let radius_m = match (radius, scale) {
                (Some(r), Some(scale)) => validate::radius_in_bound(
                    r * scale,
                    &format!("radius {} {unit}", validate::num(r)),
                )
                .map_err(|e| problems.push(e))
                .ok(),
                _ => None,
            };
            match (center, radius_m) {
                (Some(center), Some(radius_m)) => Some(ZoneShape::Circle { center, radius_m }),
                _ => None,
            }
        }
        other => {
            problems.push(format!(
                "horizontalProjection.type must be Polygon or Circle, found {other:?}"
            ));
            None
        }
    };
    match (band, shape) {
        (Some(band), Some(shape)) if problems.is_empty() => Ok((band, shape)),
        _ => Err(problems),
    }
}

/// "17:00:00.00Z", "17:00:00", "17:00"; a trailing Z (or none) means UTC.
fn clock(text: &str) -> Option<NaiveTime> {
    let t = text.trim_end_matches('Z');
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
}

/// One applicability, with every fault in it.
fn applicability(a: &Value) -> Result<Applicability, Vec<String>> {
    if a["permanent"] == "YES" {
        return Ok(Applicability::permanent());
    }
    let mut problems = Vec::new();
    let mut time = |key: &str| -> Option<Option<DateTime<Utc>>> {
        let t = match &a[key] {
            Value::Null => Ok(None),
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| format!("{key} `{s}`: {e}")),
            other => Err(format!(
                "{key} must be an RFC 3339 time, found {}",
                show(other)
            )),
        };
        t.map_err(|e| problems.push(e)).ok()
    };
    let (start, end) = (time("startDateTime"), time("endDateTime"));
    if let (Some(Some(s)), Some(Some(e))) = (start, end) {
        if s >= e {
            problems.push(format!("startDateTime {s} is not before endDateTime {e}"));
        }
    }
    let mut weekly = Vec::new();
    for (k, s) in a["schedule"].as_array().into_iter().flatten().enumerate() {
        let before = problems.len();
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
                Some(text) => match text.parse::<Weekday>() {
                    Ok(w) => days.push(w),
                    Err(_) => {
                        problems.push(format!("schedule[{k}].day: `{text}` is not a weekday"))
                    }
                },
                None => problems.push(format!("schedule[{k}].day: {} is not a weekday", show(d))),
            }
        }
        if days.is_empty() && problems.len() == before {
            problems.push(format!("schedule[{k}] has no day"));
        }
        let mut parse = |key: &str| {
            let t = s[key].as_str().and_then(clock);
            if t.is_none() {
                problems.push(format!(
                    "schedule[{k}].{key} must be a time like \"17:00:00.00Z\", found {}",
                    show(&s[key])
                ));
            }
            t
        };
        let (st, en) = (parse("startTime"), parse("endTime"));
        // An endTime before the startTime closes the next day.
        if st.is_some() && st == en {
            problems.push(format!("schedule[{k}]: startTime equals endTime"));
        }
        if let (Some(st), Some(en)) = (st, en) {
            weekly.push(Schedule {
                days,
                start: st,
                end: en,
                offset: Some(FixedOffset::east_opt(0).expect("UTC")),
            });
        }
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err(problems);
    };
    if start.is_none() && end.is_none() && weekly.is_empty() && problems.is_empty() {
        problems.push("permanent is not YES and there is no start, end or schedule".into());
    }
    if problems.is_empty() {
        Ok(Applicability { start, end, weekly })
    } else {
        Err(problems)
    }
}
