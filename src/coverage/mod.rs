//! Coverage: how to photograph an area or a corridor completely from a
//! camera's footprint, and how to cut the resulting path into sorties a
//! battery can fly. Pure, no IO.
//!
//! Geometry is done on a local plane (metres east and north of an origin
//! near the work), which over a district's few kilometres is exact to well
//! under a camera footprint's overlap.

pub mod area;
pub mod camera;
pub mod corridor;
pub mod local;
pub mod sorties;

pub use area::{plan_area, AreaSurvey};
pub use camera::{Camera, Overlap};
pub use corridor::{plan_corridor, CorridorSurvey};
pub use local::{LocalFrame, Xy};
pub use sorties::{split_into_sorties, SortieLeg};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CoverageError {
    #[error("the area has fewer than 3 distinct corners")]
    DegenerateArea,
    #[error("the corridor needs at least two distinct points")]
    DegenerateLine,
    #[error("{what} must be {expected}, got {got}")]
    OutOfRange {
        what: &'static str,
        expected: &'static str,
        got: f64,
    },
    #[error("coordinate {index} is not a longitude/latitude pair in range: ({lon}, {lat})")]
    BadCoordinate { index: usize, lon: f64, lat: f64 },
    #[error(
        "the work starts {reach_m:.0} m from the dock and back, more than the {budget_m:.0} m one battery flies"
    )]
    BeyondReach { reach_m: f64, budget_m: f64 },
}
