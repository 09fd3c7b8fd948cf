//! A department's request, as the API accepts it, and the states a task
//! goes through.

use geo::Point;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointGeometry {
    #[serde(rename = "type")]
    pub kind: String,
    pub coordinates: Vec<f64>,
}

/// POST /api/v1/tasks body. Unknown fields are refused so a typo
/// ("altitude" for "alt_m") is not silently replaced by a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    pub kind: String,
    pub geometry: PointGeometry,
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
}

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
    /// Checks what the types alone cannot. Call before `target()`.
    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |field, message: String| Err(FieldError { field, message });
        if self.kind != "point_inspection" {
            return bad(
                "kind",
                format!(
                    "unsupported task kind `{}`; this version takes `point_inspection`",
                    self.kind
                ),
            );
        }
        if self.geometry.kind != "Point" {
            return bad(
                "geometry.type",
                format!(
                    "a point inspection needs a GeoJSON Point, got `{}`",
                    self.geometry.kind
                ),
            );
        }
        let c = &self.geometry.coordinates;
        if c.len() < 2 || c.len() > 3 {
            return bad(
                "geometry.coordinates",
                format!("a position has 2 or 3 numbers, got {}", c.len()),
            );
        }
        if !c.iter().all(|v| v.is_finite())
            || !(-180.0..=180.0).contains(&c[0])
            || !(-90.0..=90.0).contains(&c[1])
        {
            return bad(
                "geometry.coordinates",
                format!("[{}, {}] is not a valid [longitude, latitude]", c[0], c[1]),
            );
        }
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
        Ok(())
    }

    pub fn target(&self) -> Point {
        Point::new(self.geometry.coordinates[0], self.geometry.coordinates[1])
    }

    pub fn inspection(&self) -> PointInspection {
        PointInspection {
            target: self.target(),
            alt_agl_m: self.alt_m,
            radius_m: self.radius_m,
            photos: self.photos,
        }
    }
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
