//! Altitude bands: a floor and a ceiling with the datum they are measured
//! from. Checks run in metres above ground; the region's vertical context
//! converts the other datums.

use std::fmt;

/// The datum an altitude is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltitudeReference {
    /// Above ground level.
    Agl,
    /// Above mean sea level.
    Amsl,
    /// Above the WGS84 ellipsoid (GPS height, F3548 "W84").
    Wgs84,
}

impl AltitudeReference {
    pub fn parse(text: &str) -> Option<AltitudeReference> {
        match text.to_ascii_uppercase().as_str() {
            "AGL" => Some(AltitudeReference::Agl),
            "AMSL" | "MSL" => Some(AltitudeReference::Amsl),
            "WGS84" | "W84" => Some(AltitudeReference::Wgs84),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AltitudeReference::Agl => "AGL",
            AltitudeReference::Amsl => "AMSL",
            AltitudeReference::Wgs84 => "WGS84",
        }
    }
}

/// How to turn AMSL and WGS84 heights into heights above ground. Terrain is
/// taken as flat at `ground_amsl_m` over the region: skyshare has no terrain
/// model, and the demo district is flat to within a few metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerticalContext {
    pub ground_amsl_m: f64,
    /// Geoid height above the ellipsoid here (WGS84 height = AMSL + this).
    pub geoid_undulation_m: f64,
}

impl Default for VerticalContext {
    fn default() -> Self {
        VerticalContext {
            ground_amsl_m: 0.0,
            geoid_undulation_m: 0.0,
        }
    }
}

impl VerticalContext {
    pub fn to_agl(&self, value_m: f64, reference: AltitudeReference) -> f64 {
        match reference {
            AltitudeReference::Agl => value_m,
            AltitudeReference::Amsl => value_m - self.ground_amsl_m,
            AltitudeReference::Wgs84 => value_m - self.geoid_undulation_m - self.ground_amsl_m,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BandError {
    #[error("altitude {0} is not a number")]
    NotFinite(&'static str),
    #[error("floor {floor_m} m is above ceiling {ceiling_m} m")]
    FloorAboveCeiling { floor_m: f64, ceiling_m: f64 },
}

/// A vertical extent `[floor, ceiling]`, both in metres from one datum. The
/// ceiling may be infinite (no upper limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    floor_m: f64,
    ceiling_m: f64,
    reference: AltitudeReference,
}

impl Band {
    pub fn new(
        floor_m: f64,
        ceiling_m: f64,
        reference: AltitudeReference,
    ) -> Result<Band, BandError> {
        if !floor_m.is_finite() {
            return Err(BandError::NotFinite("floor"));
        }
        if ceiling_m.is_nan() || ceiling_m == f64::NEG_INFINITY {
            return Err(BandError::NotFinite("ceiling"));
        }
        if floor_m > ceiling_m {
            return Err(BandError::FloorAboveCeiling { floor_m, ceiling_m });
        }
        Ok(Band {
            floor_m,
            ceiling_m,
            reference,
        })
    }

    /// Ground to unlimited: the whole column.
    pub fn surface_up() -> Band {
        Band {
            floor_m: 0.0,
            ceiling_m: f64::INFINITY,
            reference: AltitudeReference::Agl,
        }
    }

    pub fn floor_m(&self) -> f64 {
        self.floor_m
    }
    pub fn ceiling_m(&self) -> f64 {
        self.ceiling_m
    }
    pub fn reference(&self) -> AltitudeReference {
        self.reference
    }

    /// `(floor, ceiling)` above ground. A floor at the ground is taken to
    /// reach below it, so a drone on the ground inside the zone is inside.
    pub fn agl(&self, ctx: &VerticalContext) -> (f64, f64) {
        let floor = ctx.to_agl(self.floor_m, self.reference);
        let floor = if floor <= 0.0 {
            f64::NEG_INFINITY
        } else {
            floor
        };
        (floor, ctx.to_agl(self.ceiling_m, self.reference))
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ceiling_m.is_infinite() {
            write!(f, "above {:.0} m {}", self.floor_m, self.reference.as_str())
        } else {
            write!(
                f,
                "{:.0}-{:.0} m {}",
                self.floor_m,
                self.ceiling_m,
                self.reference.as_str()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_above_ceiling_is_refused() {
        assert!(matches!(
            Band::new(120.0, 60.0, AltitudeReference::Agl),
            Err(BandError::FloorAboveCeiling { .. })
        ));
        assert!(Band::new(f64::NAN, 60.0, AltitudeReference::Agl).is_err());
        assert!(Band::new(0.0, f64::NAN, AltitudeReference::Agl).is_err());
    }

    #[test]
    fn amsl_and_wgs84_bands_convert_to_agl_over_flat_ground() {
        let ctx = VerticalContext {
            ground_amsl_m: 25.0,
            geoid_undulation_m: -10.0,
        };
        let amsl = Band::new(85.0, 145.0, AltitudeReference::Amsl).unwrap();
        assert_eq!(amsl.agl(&ctx), (60.0, 120.0));
        let wgs = Band::new(75.0, 135.0, AltitudeReference::Wgs84).unwrap();
        assert_eq!(wgs.agl(&ctx), (60.0, 120.0));
    }
}
