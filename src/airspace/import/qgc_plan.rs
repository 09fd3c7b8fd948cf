//! QGroundControl `.plan` geofences: `geoFence.polygons` and
//! `geoFence.circles`, positions [lat, lon]. An inclusion fence becomes an
//! operating area, an exclusion fence a prohibited zone; fences have no
//! altitude band or time, so they cover the whole column, permanently. A
//! missing `inclusion` means inclusion, as MAVSDK reads it. Ids come from
//! each fence's geometry (`fence_id`), names from its place in the file. A
//! circle's radius is at most 1,000 km ([`validate::MAX_RADIUS_M`]).

use serde_json::Value;

use super::validate;
use super::ImportError;
use crate::airspace::band::Band;
use crate::airspace::schedule::Applicability;
use crate::airspace::zone::{Zone, ZoneKind, ZoneShape};

fn lat_lon(v: &Value) -> Result<(f64, f64), String> {
    let a = v
        .as_array()
        .filter(|a| a.len() >= 2)
        .ok_or_else(|| format!("position {} is not [lat, lon]", validate::show(v)))?;
    let lat = a[0]
        .as_f64()
        .ok_or_else(|| format!("latitude {} is not a number", validate::show(&a[0])));
    let lon = a[1]
        .as_f64()
        .ok_or_else(|| format!("longitude {} is not a number", validate::show(&a[1])));
    let (lat, lon) = match (lat, lon) {
        (Ok(lat), Ok(lon)) => (lat, lon),
        (Err(a), Err(b)) => return Err(format!("{a}; {b}")),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    validate::lon_lat(lon, lat, "[lat, lon]")
}

fn kind(fence: &Value) -> ZoneKind {
    if fence["inclusion"] == false {
        ZoneKind::Prohibited
    } else {
        ZoneKind::OperatingArea
    }
}

/// A fence has no name in a .plan, and its place in the file is no id:
/// every plan has a `polygon-0`, so a second plan could never be stored
/// beside the first. The id is the fence's kind of shape and a hash of its
/// geometry and inclusion (FNV-1a, stable across builds): the same fence
/// gets the same id from any file, so importing it twice is refused as a
/// duplicate, and different fences do not collide.
fn fence_id(shape: &ZoneShape, kind: ZoneKind) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: f64| {
        for byte in v.to_bits().to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(f64::from(u8::from(kind == ZoneKind::OperatingArea)));
    let what = match shape {
        ZoneShape::Polygon { exterior, .. } => {
            exterior.iter().for_each(|&(x, y)| {
                eat(x);
                eat(y)
            });
            "polygon"
        }
        ZoneShape::Circle { center, radius_m } => {
            eat(center.0);
            eat(center.1);
            eat(*radius_m);
            "circle"
        }
    };
    format!("qgc-{what}-{:08x}", hash >> 32)
}

fn zone(place: String, kind: ZoneKind, shape: ZoneShape) -> Zone {
    let id = fence_id(&shape, kind);
    Zone {
        name: format!("QGC fence {place}"),
        id,
        reason: String::new(),
        kind,
        shape,
        band: Band::surface_up(),
        time: Applicability::permanent(),
    }
}

pub fn import(root: &Value) -> Result<Vec<Zone>, ImportError> {
    let fence = &root["geoFence"];
    if !fence.is_object() {
        return Err(ImportError::file("the plan has no geoFence"));
    }
    let mut results = Vec::new();
    for (i, p) in fence["polygons"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let r = p["polygon"]
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                "empty geometry: `polygon` must be a non-empty array of [lat, lon]".to_string()
            })
            .and_then(|pts| validate::positions(pts, lat_lon))
            .and_then(|pts| validate::ring(pts, false))
            .map(|exterior| {
                zone(
                    format!("polygon-{i}"),
                    kind(p),
                    ZoneShape::Polygon {
                        exterior,
                        holes: Vec::new(),
                    },
                )
            });
        results.push((format!("geoFence.polygons[{i}]"), r.map_err(|e| vec![e])));
    }
    for (i, c) in fence["circles"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        // The centre and the radius are reported independently.
        let mut problems = Vec::new();
        let center = lat_lon(&c["circle"]["center"])
            .map_err(|e| problems.push(format!("circle.center: {e}")))
            .ok();
        let radius = c["circle"]["radius"]
            .as_f64()
            .filter(|r| r.is_finite() && *r > 0.0);
        let radius = match radius {
            Some(r) => {
                validate::radius_in_bound(r, &format!("circle.radius {} m", validate::num(r)))
                    .map_err(|e| problems.push(e))
                    .ok()
            }
            None => {
                problems.push(format!(
                    "circle.radius must be a positive number of metres, found {}",
                    validate::show(&c["circle"]["radius"])
                ));
                None
            }
        };
        let r = match (center, radius) {
            (Some(center), Some(radius_m)) if problems.is_empty() => Ok(zone(
                format!("circle-{i}"),
                kind(c),
                ZoneShape::Circle { center, radius_m },
            )),
            _ => Err(problems),
        };
        results.push((format!("geoFence.circles[{i}]"), r));
    }
    super::collect(results)
}
