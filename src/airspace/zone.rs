//! A zone: a footprint on the map, an altitude band, a time of applicability
//! and what it means for a flight (its kind).

use std::fmt;

use super::band::Band;
use super::geom::{LocalFrame, PlanarShape, Xy};
use super::schedule::Applicability;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKind {
    /// No flight inside while active (ED-269 PROHIBITED).
    Prohibited,
    /// Flight only with an authorisation naming the zone (REQ_AUTHORISATION).
    AuthorisationRequired,
    /// Flight allowed under conditions the operator must meet (CONDITIONAL).
    Conditional,
    /// Information only (ED-269 NO_RESTRICTION, e.g. a notice).
    Advisory,
    /// The fleet's operating area: flights must stay inside (inclusion fence).
    OperatingArea,
}

impl ZoneKind {
    pub fn parse(text: &str) -> Option<ZoneKind> {
        match text {
            "prohibited" => Some(ZoneKind::Prohibited),
            "authorisation_required" | "authorization_required" => {
                Some(ZoneKind::AuthorisationRequired)
            }
            "conditional" => Some(ZoneKind::Conditional),
            "advisory" => Some(ZoneKind::Advisory),
            "operating_area" => Some(ZoneKind::OperatingArea),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Prohibited => "prohibited",
            ZoneKind::AuthorisationRequired => "authorisation_required",
            ZoneKind::Conditional => "conditional",
            ZoneKind::Advisory => "advisory",
            ZoneKind::OperatingArea => "operating_area",
        }
    }
}

impl fmt::Display for ZoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZoneKind::Prohibited => "prohibited",
            ZoneKind::AuthorisationRequired => "authorisation required",
            ZoneKind::Conditional => "conditional",
            ZoneKind::Advisory => "advisory",
            ZoneKind::OperatingArea => "operating area",
        })
    }
}

/// Footprint in longitude/latitude degrees (WGS84).
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneShape {
    /// Rings as (lon, lat), not repeating the first position at the end.
    Polygon {
        exterior: Vec<(f64, f64)>,
        holes: Vec<Vec<(f64, f64)>>,
    },
    Circle {
        center: (f64, f64),
        radius_m: f64,
    },
}

impl ZoneShape {
    pub fn to_planar(&self, frame: &LocalFrame) -> PlanarShape {
        let ring = |r: &Vec<(f64, f64)>| -> Vec<Xy> {
            r.iter()
                .map(|&(lon, lat)| frame.to_local(lon, lat))
                .collect()
        };
        match self {
            ZoneShape::Polygon { exterior, holes } => {
                PlanarShape::polygon(ring(exterior), holes.iter().map(ring).collect())
            }
            ZoneShape::Circle { center, radius_m } => PlanarShape::Circle {
                center: frame.to_local(center.0, center.1),
                radius_m: *radius_m,
            },
        }
    }

    /// A point to centre a local frame on.
    pub fn anchor(&self) -> (f64, f64) {
        match self {
            ZoneShape::Polygon { exterior, .. } => exterior.first().copied().unwrap_or((0.0, 0.0)),
            ZoneShape::Circle { center, .. } => *center,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub reason: String,
    pub kind: ZoneKind,
    pub shape: ZoneShape,
    pub band: Band,
    pub time: Applicability,
}

impl Zone {
    /// "Z-HOSP (prohibited, 0-120 m AGL)"
    pub fn label(&self) -> String {
        format!("{} ({}, {})", self.id, self.kind, self.band)
    }
}
