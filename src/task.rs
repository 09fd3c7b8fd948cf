//! A department's request, as the API accepts it, and the states a task
//! goes through.

use chrono::{DateTime, Utc};
use geo::{GeodesicArea, LineString, Point, Polygon, Validation};
use serde::{Deserialize, Serialize};

use crate::planning::PointInspection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Queued,
    Assigned,
    InFlight,
    Completed,
    Failed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Assigned => "assigned",
            TaskState::InFlight => "in_flight",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
        }
    }
}

pub const SENSORS: [&str; 4] = ["visible", "thermal", "multispectral", "loudspeaker"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Routine,
    Urgent,
    Emergency,
}

/// A GeoJSON geometry as sent; its coordinates are read according to the
/// task's kind by [`TaskRequest::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geometry {
    #[serde(rename = "type")]
    pub kind: String,
    pub coordinates: serde_json::Value,
}

impl Geometry {
    pub fn point(at: Point) -> Geometry {
        Geometry {
            kind: "Point".into(),
            coordinates: serde_json::json!([at.x(), at.y()]),
        }
    }
}

/// Fractions of each photo shared with the next line and the next photo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapRequest {
    pub side: f64,
    pub front: f64,
}

/// What a task asks to be flown, once its request has been validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Point(PointInspection),
    Area(Polygon),
    Corridor { centre: LineString, width_m: f64 },
}

/// The largest area one request may survey, square metres: a district
/// block, not the district.
pub const MAX_AREA_M2: f64 = 4_000_000.0;

/// POST /api/v1/tasks body. Unknown fields are refused so a typo
/// ("altitude" for "alt_m") is not silently replaced by a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// `point_inspection` (Point), `area_survey` (Polygon) or
    /// `corridor_survey` (LineString with `width_m`).
    pub kind: String,
    pub geometry: Geometry,
    /// Above the take-off dock, metres.
    pub alt_m: f64,
    pub sensor: String,
    #[serde(default)]
    pub priority: Priority,
    /// 0 hovers over the point; more orbits it looking in.
    #[serde(default = "default_radius_m")]
    pub radius_m: f64,
    #[serde(default = "default_photos")]
    pub photos: u32,
    /// Corridor surveys: the width to cover, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_m: Option<f64>,
    /// Area and corridor surveys; default 70% side, 80% front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapRequest>,
    /// When the work may be flown: not before `start`, done by `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Fly it again every day or week until a date: each occurrence is a
    /// task of its own, in `window` shifted by the period (see
    /// [`crate::recurrence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<crate::recurrence::Recurrence>,
}

/// RFC 3339 instants; either end may be left open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

/// How far ahead a request may be placed.
pub const MAX_LEAD_DAYS: i64 = 31;

fn default_radius_m() -> f64 {
    30.0
}
fn default_photos() -> u32 {
    4
}

/// A field that is wrong, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl TaskRequest {
    /// Checks what the types alone cannot. Call before [`TaskRequest::work`].
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |field, message: String| Err(FieldError { field, message });
        let expected = match self.kind.as_str() {
            "point_inspection" => "Point",
            "area_survey" => "Polygon",
            "corridor_survey" => "LineString",
            other => {
                return bad(
                    "kind",
                    format!(
                        "unsupported task kind `{other}`; one of point_inspection, area_survey, corridor_survey"
                    ),
                )
            }
        };
        if self.geometry.kind != expected {
            let kind = self.kind.replace('_', " ");
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return bad(
                "geometry.type",
                format!(
                    "{article} {kind} needs a GeoJSON {expected}, got `{}`",
                    self.geometry.kind
                ),
            );
        }
        self.parse_work()
            .map_err(|(field, message)| FieldError { field, message })?;
        if !(10.0..=120.0).contains(&self.alt_m) {
            return bad(
                "alt_m",
                format!("{} m is outside 10..120 m above the dock", self.alt_m),
            );
        }
        if !SENSORS.contains(&self.sensor.as_str()) {
            return bad(
                "sensor",
                format!(
                    "unknown sensor `{}`; one of {}",
                    self.sensor,
                    SENSORS.join(", ")
                ),
            );
        }
        if !(0.0..=200.0).contains(&self.radius_m) {
            return bad(
                "radius_m",
                format!("{} m is outside 0..200 m", self.radius_m),
            );
        }
        if !(1..=36).contains(&self.photos) {
            return bad("photos", format!("{} is outside 1..36", self.photos));
        }
        if let Some(o) = self.overlap {
            for (field, value) in [("overlap.side", o.side), ("overlap.front", o.front)] {
                if !(0.0..=0.9).contains(&value) {
                    return bad(field, format!("{value} is outside 0..0.9"));
                }
            }
        }
        Ok(())
    }

    /// Checks the window against the clock: it must not have closed, must
    /// close after it opens, and must open within [`MAX_LEAD_DAYS`].
    pub fn check_window(&self, now: DateTime<Utc>) -> Result<(), FieldError> {
        let Some(window) = self.window else {
            return Ok(());
        };
        let bad = |field, message: String| Err(FieldError { field, message });
        if let (Some(start), Some(end)) = (window.start, window.end) {
            if end <= start {
                return bad(
                    "window.end",
                    format!("{end} is not after the start {start}"),
                );
            }
        }
        if let Some(end) = window.end {
            if end <= now {
                return bad(
                    "window.end",
                    format!("{end} has already passed (now {now})"),
                );
            }
        }
        if let Some(start) = window.start {
            if start > now + chrono::Duration::days(MAX_LEAD_DAYS) {
                return bad(
                    "window.start",
                    format!("{start} is more than {MAX_LEAD_DAYS} days ahead"),
                );
            }
        }
        Ok(())
    }

    /// The work asked for. Panics on a request that did not validate.
    pub fn work(&self) -> Work {
        self.parse_work().expect("validated request")
    }

    fn parse_work(&self) -> Result<Work, (&'static str, String)> {
        let coordinates = &self.geometry.coordinates;
        match self.kind.as_str() {
            "point_inspection" => {
                let at = position(coordinates).map_err(|m| ("geometry.coordinates", m))?;
                Ok(Work::Point(PointInspection {
                    target: at,
                    alt_agl_m: self.alt_m,
                    radius_m: self.radius_m,
                    photos: self.photos,
                }))
            }
            "area_survey" => {
                let rings = coordinates.as_array().filter(|r| !r.is_empty()).ok_or((
                    "geometry.coordinates",
                    "a Polygon is an array of rings".to_string(),
                ))?;
                let mut parsed = Vec::with_capacity(rings.len());
                for (r, ring) in rings.iter().enumerate() {
                    let points = positions(ring)
                        .map_err(|m| ("geometry.coordinates", format!("ring {r}: {m}")))?;
                    if points.len() < 4 || points.first() != points.last() {
                        return Err((
                            "geometry.coordinates",
                            format!("ring {r} must be closed (first position repeated last) with at least 4 positions"),
                        ));
                    }
                    parsed.push(LineString::from(points));
                }
                let exterior = parsed.remove(0);
                let polygon = Polygon::new(exterior, parsed);
                if let Err(problem) = polygon.check_validation() {
                    return Err((
                        "geometry.coordinates",
                        format!("the polygon is not valid: {problem}"),
                    ));
                }
                let area = polygon.geodesic_area_unsigned();
                if area > MAX_AREA_M2 {
                    return Err((
                        "geometry",
                        format!(
                            "{:.2} km² is more than one request may survey ({:.0} km²); split it",
                            area / 1e6,
                            MAX_AREA_M2 / 1e6
                        ),
                    ));
                }
                Ok(Work::Area(polygon))
            }
            _ => {
                let points = positions(coordinates).map_err(|m| ("geometry.coordinates", m))?;
                if points.len() < 2 {
                    return Err((
                        "geometry.coordinates",
                        "a LineString needs at least 2 positions".into(),
                    ));
                }
                let width_m = self.width_m.ok_or((
                    "width_m",
                    "a corridor survey needs its width in metres".to_string(),
                ))?;
                if !(1.0..=500.0).contains(&width_m) {
                    return Err(("width_m", format!("{width_m} m is outside 1..500 m")));
                }
                Ok(Work::Corridor {
                    centre: LineString::from(points),
                    width_m,
                })
            }
        }
    }

    /// A point that stands for the work: the target, or the first corner or
    /// end of an area or corridor.
    pub fn anchor(&self) -> Point {
        match self.work() {
            Work::Point(p) => p.target,
            Work::Area(polygon) => polygon.exterior().0[0].into(),
            Work::Corridor { centre, .. } => centre.0[0].into(),
        }
    }

    /// Every position given, for checking each against the region.
    pub fn positions(&self) -> Vec<Point> {
        match self.work() {
            Work::Point(p) => vec![p.target],
            Work::Area(polygon) => std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .flat_map(|ring| ring.points())
                .collect(),
            Work::Corridor { centre, .. } => centre.points().collect(),
        }
    }
}

/// `[lon, lat]` or `[lon, lat, alt]`, in range.
fn position(value: &serde_json::Value) -> Result<Point, String> {
    let c: Vec<f64> = value
        .as_array()
        .ok_or("a position is an array of numbers")?
        .iter()
        .map(|v| v.as_f64().ok_or("a position is an array of numbers"))
        .collect::<Result<_, _>>()?;
    if c.len() < 2 || c.len() > 3 {
        return Err(format!("a position has 2 or 3 numbers, got {}", c.len()));
    }
    if !c.iter().all(|v| v.is_finite())
        || !(-180.0..=180.0).contains(&c[0])
        || !(-90.0..=90.0).contains(&c[1])
    {
        return Err(format!(
            "[{}, {}] is not a valid [longitude, latitude]",
            c[0], c[1]
        ));
    }
    Ok(Point::new(c[0], c[1]))
}

fn positions(value: &serde_json::Value) -> Result<Vec<Point>, String> {
    value
        .as_array()
        .ok_or_else(|| "expected an array of positions".to_string())?
        .iter()
        .enumerate()
        .map(|(i, p)| position(p).map_err(|m| format!("position {i}: {m}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> TaskRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn swapped_coordinates_are_refused_with_the_field() {
        let r = request(
            r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[30.5,114.4]},"alt_m":50,"sensor":"visible"}"#,
        );
        assert_eq!(r.validate().unwrap_err().field, "geometry.coordinates");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<TaskRequest>(r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[114.4,30.5]},"alt_m":50,"sensor":"visible","altitude":3}"#).unwrap_err();
        assert!(err.to_string().contains("altitude"), "{err}");
    }

    #[test]
    fn an_area_survey_takes_a_closed_valid_polygon() {
        let ok = request(
            r#"{"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.403,30.50],[114.403,30.502],[114.40,30.502],[114.40,30.50]]]},"alt_m":80,"sensor":"visible"}"#,
        );
        assert!(ok.validate().is_ok());
        assert!(matches!(ok.work(), Work::Area(_)));
        let open = request(
            r#"{"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.403,30.50],[114.403,30.502],[114.40,30.502]]]},"alt_m":80,"sensor":"visible"}"#,
        );
        let error = open.validate().unwrap_err();
        assert!(error.message.contains("closed"), "{}", error.message);
        let bowtie = request(
            r#"{"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.403,30.502],[114.403,30.50],[114.40,30.502],[114.40,30.50]]]},"alt_m":80,"sensor":"visible"}"#,
        );
        let error = bowtie.validate().unwrap_err();
        assert!(error.message.contains("not valid"), "{}", error.message);
    }

    #[test]
    fn a_corridor_needs_its_width_and_a_whole_district_is_too_big_for_one_request() {
        let no_width = request(
            r#"{"kind":"corridor_survey","geometry":{"type":"LineString","coordinates":[[114.40,30.50],[114.41,30.50]]},"alt_m":60,"sensor":"visible"}"#,
        );
        assert_eq!(no_width.validate().unwrap_err().field, "width_m");
        let huge = request(
            r#"{"kind":"area_survey","geometry":{"type":"Polygon","coordinates":[[[114.30,30.40],[114.50,30.40],[114.50,30.60],[114.30,30.60],[114.30,30.40]]]},"alt_m":80,"sensor":"visible"}"#,
        );
        let error = huge.validate().unwrap_err();
        assert!(error.message.contains("split it"), "{}", error.message);
    }

    #[test]
    fn a_window_that_has_closed_or_ends_before_it_starts_is_refused() {
        let now: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
        let with = |window: &str| {
            request(&format!(
                r#"{{"kind":"point_inspection","geometry":{{"type":"Point","coordinates":[114.4,30.5]}},"alt_m":50,"sensor":"visible","window":{window}}}"#
            ))
        };
        assert!(with(r#"{"end":"2026-11-24T10:00:00Z"}"#)
            .check_window(now)
            .is_ok());
        assert_eq!(
            with(r#"{"end":"2026-11-24T07:00:00Z"}"#)
                .check_window(now)
                .unwrap_err()
                .field,
            "window.end"
        );
        let inverted = with(r#"{"start":"2026-11-24T12:00:00Z","end":"2026-11-24T11:00:00Z"}"#);
        assert!(inverted
            .check_window(now)
            .unwrap_err()
            .message
            .contains("not after"));
        assert_eq!(
            with(r#"{"start":"2027-03-01T00:00:00Z"}"#)
                .check_window(now)
                .unwrap_err()
                .field,
            "window.start"
        );
    }

    #[test]
    fn defaults_give_a_four_photo_orbit() {
        let r = request(
            r#"{"kind":"point_inspection","geometry":{"type":"Point","coordinates":[114.4,30.5]},"alt_m":50,"sensor":"thermal"}"#,
        );
        assert!(r.validate().is_ok());
        assert_eq!(
            (r.radius_m, r.photos, r.priority),
            (30.0, 4, Priority::Routine)
        );
    }
}
