//! The operating region: boundary, docks and zones, read from one GeoJSON
//! FeatureCollection (maps/optics-valley.geojson). Each feature's
//! `properties.role` says what it is. Every problem in the file is reported
//! at once, with the feature it belongs to, and a file with any problem is
//! refused whole.

use geo::{Coord, LineString, Point, Polygon};
use serde_json::Value;

use crate::airspace::Zone;

/// The demo region, compiled in so `skyshare demo` works from any directory.
pub const DEMO_REGION_GEOJSON: &str = include_str!("../maps/optics-valley.geojson");

#[derive(Debug, Clone)]
pub struct Dock {
    pub id: String,
    pub name: String,
    pub position: Point,
    pub alt_msl_m: f64,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub boundary: Polygon,
    /// Zone schedules are written in local time; China has one offset, no DST.
    pub utc_offset_hours: i32,
    /// Where AMSL and WGS84 zone bands sit above the ground here: the
    /// boundary's `ground_amsl_m` (default: the docks' mean altitude, docks
    /// being on the ground) and `geoid_undulation_m` (default 0).
    pub vertical: crate::airspace::VerticalContext,
    pub docks: Vec<Dock>,
    pub zones: Vec<Zone>,
}

#[derive(Debug, thiserror::Error)]
#[error("region file has {} problem(s):\n  {}", .0.len(), .0.join("\n  "))]
pub struct RegionError(pub Vec<String>);

impl Region {
    pub fn demo() -> Region {
        Region::from_geojson(DEMO_REGION_GEOJSON).expect("the bundled demo region is valid")
    }

    pub fn dock(&self, id: &str) -> Option<&Dock> {
        self.docks.iter().find(|d| d.id == id)
    }

    pub fn from_geojson(text: &str) -> Result<Region, RegionError> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| RegionError(vec![format!("not JSON: {e}")]))?;
        let features = root
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| RegionError(vec!["no `features` array".into()]))?;
        let mut problems = Vec::new();
        let mut boundary = None;
        let mut docks = Vec::new();
        let mut zones = Vec::new();
        for (index, feature) in features.iter().enumerate() {
            let props = feature.get("properties").cloned().unwrap_or(Value::Null);
            let id = props["id"].as_str().unwrap_or("").to_owned();
            let at = format!("features[{index}] (id `{id}`)");
            let name = props["name"].as_str().unwrap_or(&id).to_owned();
            let geometry = &feature["geometry"];
            match props["role"].as_str() {
                Some("boundary") => match polygon(geometry) {
                    Ok(p) => {
                        let offset = props["utc_offset_hours"].as_i64().unwrap_or(0) as i32;
                        let datum = (
                            props["ground_amsl_m"].as_f64(),
                            props["geoid_undulation_m"].as_f64().unwrap_or(0.0),
                        );
                        boundary = Some((name, p, offset, datum));
                    }
                    Err(e) => problems.push(format!("{at}: {e}")),
                },
                Some("dock") => match point(geometry) {
                    Ok(position) if !id.is_empty() => docks.push(Dock {
                        id,
                        name,
                        position,
                        alt_msl_m: props["alt_msl_m"].as_f64().unwrap_or(0.0),
                    }),
                    Ok(_) => problems.push(format!("{at}: a dock needs an id")),
                    Err(e) => problems.push(format!("{at}: {e}")),
                },
                Some("zone") => match zone(id.clone(), name, &props, geometry) {
                    Ok(z) => zones.push(z),
                    Err(e) => problems.push(format!("{at}: {e}")),
                },
                other => problems.push(format!(
                    "{at}: properties.role must be boundary, dock or zone, found {other:?}"
                )),
            }
        }
        let Some((name, boundary, utc_offset_hours, (ground, undulation))) = boundary else {
            problems.push("no feature with role `boundary`".into());
            return Err(RegionError(problems));
        };
        if docks.is_empty() {
            problems.push("no feature with role `dock`".into());
        }
        if !problems.is_empty() {
            return Err(RegionError(problems));
        }
        let ground_amsl_m = ground
            .unwrap_or_else(|| docks.iter().map(|d| d.alt_msl_m).sum::<f64>() / docks.len() as f64);
        Ok(Region {
            name,
            boundary,
            utc_offset_hours,
            vertical: crate::airspace::VerticalContext {
                ground_amsl_m,
                geoid_undulation_m: undulation,
            },
            docks,
            zones,
        })
    }
}

/// Zone features use the airspace GeoJSON properties
/// (see `airspace::import::geojson`).
fn zone(id: String, _name: String, props: &Value, geometry: &Value) -> Result<Zone, String> {
    if id.is_empty() {
        return Err("a zone needs an id".into());
    }
    crate::airspace::import::geojson::zone_from_feature(props, geometry).map_err(|e| e.join("; "))
}

pub fn point(geometry: &Value) -> Result<Point, String> {
    if geometry["type"] != "Point" {
        return Err(format!(
            "expected a Point geometry, found {}",
            geometry["type"]
        ));
    }
    let c = position(&geometry["coordinates"])?;
    Ok(Point(c))
}

fn position(value: &Value) -> Result<Coord, String> {
    let arr = value
        .as_array()
        .ok_or("a position must be an array [lon, lat]")?;
    if arr.len() < 2 || arr.len() > 3 {
        return Err(format!(
            "a position has 2 or 3 numbers, found {}",
            arr.len()
        ));
    }
    let lon = arr[0].as_f64().ok_or("longitude is not a number")?;
    let lat = arr[1].as_f64().ok_or("latitude is not a number")?;
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!(
            "position [{lon}, {lat}] is out of range (GeoJSON order is [longitude, latitude])"
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

fn polygon(geometry: &Value) -> Result<Polygon, String> {
    if geometry["type"] != "Polygon" {
        return Err(format!(
            "expected a Polygon geometry, found {}",
            geometry["type"]
        ));
    }
    let rings = geometry["coordinates"]
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or("a Polygon needs at least one ring")?;
    let mut parsed = Vec::new();
    for (i, ring) in rings.iter().enumerate() {
        let coords = ring
            .as_array()
            .ok_or_else(|| format!("ring {i} is not an array"))?
            .iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ring {i}: {e}"))?;
        if coords.len() < 4 || coords.first() != coords.last() {
            return Err(format!("ring {i} must be closed with at least 4 positions"));
        }
        parsed.push(LineString::new(coords));
    }
    let exterior = parsed.remove(0);
    Ok(Polygon::new(exterior, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_region_has_boundary_docks_and_zone_kinds() {
        let r = Region::demo();
        assert_eq!(r.utc_offset_hours, 8);
        assert!(r.docks.len() >= 3);
        assert!(r.zones.len() >= 5);
        assert!(r.zones.iter().any(|z| !z.time.weekly.is_empty()));
        // altitude_limit zones read as prohibited above their ceiling.
        assert!(r.zones.iter().any(|z| z.band.floor_m() > 0.0));
    }

    #[test]
    fn every_bad_feature_is_listed() {
        let text = r#"{"features":[
          {"properties":{"role":"zone","id":"A","kind":"prohibited"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}},
          {"properties":{"role":"dock","id":"D"},"geometry":{"type":"Point","coordinates":[30.5,114.4]}}
        ]}"#;
        let err = Region::from_geojson(text).unwrap_err();
        let all = err.to_string();
        assert!(all.contains("ring 0: ring is not closed"), "{all}");
        assert!(all.contains("out of range"), "{all}");
        assert!(all.contains("no feature with role `boundary`"), "{all}");
    }
}
