//! A camera's ground footprint and resolution at a height, and the line
//! spacing and trigger distance that give a requested overlap.

use super::CoverageError;

/// Pinhole camera, long side of the sensor across the flight line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub sensor_width_mm: f64,
    pub sensor_height_mm: f64,
    pub focal_length_mm: f64,
    pub image_width_px: u32,
    pub image_height_px: u32,
}

impl Camera {
    /// A one-inch 20-megapixel survey camera (13.2 x 8.8 mm, 8.8 mm lens).
    pub fn visible() -> Camera {
        Camera {
            sensor_width_mm: 13.2,
            sensor_height_mm: 8.8,
            focal_length_mm: 8.8,
            image_width_px: 5472,
            image_height_px: 3648,
        }
    }

    /// A 640 x 512 radiometric thermal core (12 um pixels, 13 mm lens).
    pub fn thermal() -> Camera {
        Camera {
            sensor_width_mm: 7.68,
            sensor_height_mm: 6.144,
            focal_length_mm: 13.0,
            image_width_px: 640,
            image_height_px: 512,
        }
    }

    /// Ground covered by one nadir image from `height_m` over flat ground:
    /// (across the line, along the line), metres.
    pub fn footprint_m(&self, height_m: f64) -> (f64, f64) {
        (
            height_m * self.sensor_width_mm / self.focal_length_mm,
            height_m * self.sensor_height_mm / self.focal_length_mm,
        )
    }

    /// Ground sample distance at `height_m`, metres per pixel.
    pub fn gsd_m(&self, height_m: f64) -> f64 {
        height_m * self.sensor_width_mm / (self.focal_length_mm * f64::from(self.image_width_px))
    }
}

/// Fractions of each image shared with the next line (side) and the next
/// image on the same line (front).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    pub side: f64,
    pub front: f64,
}

impl Default for Overlap {
    /// Usual figures for orthomosaics.
    fn default() -> Overlap {
        Overlap {
            side: 0.7,
            front: 0.8,
        }
    }
}

/// Distance between flight lines and between photos, metres.
pub fn spacing_m(
    camera: &Camera,
    height_m: f64,
    overlap: Overlap,
) -> Result<(f64, f64), CoverageError> {
    if !(height_m.is_finite() && height_m > 0.0) {
        return Err(CoverageError::OutOfRange {
            what: "height above ground",
            expected: "a positive number of metres",
            got: height_m,
        });
    }
    for (what, got) in [
        ("side overlap", overlap.side),
        ("front overlap", overlap.front),
    ] {
        if !(0.0..0.95).contains(&got) {
            return Err(CoverageError::OutOfRange {
                what,
                expected: "at least 0 and below 0.95",
                got,
            });
        }
    }
    let (across, along) = camera.footprint_m(height_m);
    Ok((across * (1.0 - overlap.side), along * (1.0 - overlap.front)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_and_resolution_follow_the_pinhole_model() {
        let camera = Camera::visible();
        let (across, along) = camera.footprint_m(100.0);
        assert!((across - 150.0).abs() < 1e-9);
        assert!((along - 100.0).abs() < 1e-9);
        // 150 m over 5472 px: 2.74 cm per pixel.
        assert!((camera.gsd_m(100.0) - 0.02741).abs() < 1e-4);
    }

    #[test]
    fn overlap_sets_line_spacing_and_trigger_distance() {
        let (line, trigger) = spacing_m(&Camera::visible(), 100.0, Overlap::default()).unwrap();
        assert!((line - 45.0).abs() < 1e-9);
        assert!((trigger - 20.0).abs() < 1e-9);
    }

    #[test]
    fn refuses_an_overlap_that_would_never_advance() {
        let error = spacing_m(
            &Camera::visible(),
            100.0,
            Overlap {
                side: 1.0,
                front: 0.8,
            },
        )
        .unwrap_err();
        assert!(error.to_string().contains("side overlap"), "{error}");
    }
}
