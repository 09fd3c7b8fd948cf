//! The web console, served by the dispatcher itself so it works with no
//! internet: the bundle built from `web/` (Leaflet and the console's code,
//! bundled by esbuild into `web/dist/`, which is committed) is compiled into
//! the binary, and a read-only `/api/v1/region` gives the map its boundary,
//! docks and zones. Everything else the console shows comes from the task,
//! fleet and image endpoints of [`crate::api`].
//!
//! The region endpoint needs no token: the region is the published map the
//! repository ships (`maps/`), the same for every department.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Value};

use crate::airspace::{Zone, ZoneShape};
use crate::region::Region;

/// The built bundle. `web/build.mjs` writes exactly these three files; the
/// test `console_bundle` checks they match a fresh build of `web/src`.
const INDEX_HTML: &str = include_str!("../web/dist/index.html");
const APP_JS: &str = include_str!("../web/dist/assets/app.js");
const APP_CSS: &str = include_str!("../web/dist/assets/app.css");

/// Where the region map comes from on each request: fixed, or live (the
/// dispatcher's region with the temporary restrictions in force).
type RegionSource = Arc<dyn Fn() -> Region + Send + Sync>;

/// The console's routes: the page at `/`, its assets under `/assets/`, and
/// `GET /api/v1/region`. Merge it into the API router.
pub fn router(region: Region) -> Router {
    router_with_source(move || region.clone())
}

/// As [`router`], with the region read from `source` on each request, so
/// the map shows restrictions as soon as they are in force.
pub fn router_with_source(source: impl Fn() -> Region + Send + Sync + 'static) -> Router {
    let source: RegionSource = Arc::new(source);
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/v1/region", get(region_handler))
        .with_state(source)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The asset names carry no hash, so a browser must revalidate
            // after an upgrade of the binary.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn region_handler(State(source): State<RegionSource>) -> Json<Value> {
    Json(region_geojson(&source(), Utc::now()))
}

/// The region as one GeoJSON FeatureCollection, with each zone's state at
/// `now`. Features carry `properties.role`: `boundary`, `dock` or `zone`.
/// A circular zone is a Point with `properties.radius_m` (GeoJSON has no
/// circle).
pub fn region_geojson(region: &Region, now: DateTime<Utc>) -> Value {
    let offset = FixedOffset::east_opt(region.utc_offset_hours * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
    let mut features = Vec::with_capacity(1 + region.docks.len() + region.zones.len());
    let exterior: Vec<[f64; 2]> = region
        .boundary
        .exterior()
        .coords()
        .map(|c| [c.x, c.y])
        .collect();
    features.push(json!({
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [exterior]},
        "properties": {"role": "boundary", "name": region.name,
                       "utc_offset_hours": region.utc_offset_hours},
    }));
    for dock in &region.docks {
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [dock.position.x(), dock.position.y()]},
            "properties": {"role": "dock", "id": dock.id, "name": dock.name,
                           "alt_msl_m": dock.alt_msl_m},
        }));
    }
    for zone in &region.zones {
        features.push(zone_feature(zone, now, offset));
    }
    json!({
        "type": "FeatureCollection",
        "name": region.name,
        "generated_at": now.to_rfc3339(),
        "features": features,
    })
}

fn zone_feature(zone: &Zone, now: DateTime<Utc>, offset: FixedOffset) -> Value {
    let mut properties = json!({
        "role": "zone",
        "id": zone.id,
        "name": zone.name,
        "reason": zone.reason,
        "kind": zone.kind.as_str(),
        "band": zone.band.to_string(),
        "when": zone.time.describe(),
        "active": zone.time.active_at(now, offset),
    });
    let geometry = match &zone.shape {
        ZoneShape::Polygon { exterior, holes } => {
            // GeoJSON rings repeat their first position at the end.
            let ring = |r: &Vec<(f64, f64)>| -> Vec<[f64; 2]> {
                r.iter()
                    .chain(r.first())
                    .map(|&(lon, lat)| [lon, lat])
                    .collect()
            };
            let mut rings = vec![ring(exterior)];
            rings.extend(holes.iter().map(ring));
            json!({"type": "Polygon", "coordinates": rings})
        }
        ZoneShape::Circle { center, radius_m } => {
            properties["radius_m"] = json!(radius_m);
            json!({"type": "Point", "coordinates": [center.0, center.1]})
        }
    };
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airspace::schedule::Applicability;
    use chrono::TimeZone;

    fn zone<'a>(collection: &'a Value, id: &str) -> &'a Value {
        collection["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .unwrap_or_else(|| panic!("no feature {id}"))
    }

    #[test]
    fn region_geojson_lists_the_boundary_every_dock_and_every_zone() {
        let region = Region::demo();
        let collection = region_geojson(&region, Utc::now());
        let roles: Vec<&str> = collection["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles.iter().filter(|r| **r == "boundary").count(), 1);
        assert_eq!(
            roles.iter().filter(|r| **r == "dock").count(),
            region.docks.len()
        );
        assert_eq!(
            roles.iter().filter(|r| **r == "zone").count(),
            region.zones.len()
        );
        let hospital = zone(&collection, "Z-HOSP");
        assert_eq!(hospital["properties"]["kind"], "prohibited");
        let ring = hospital["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.first(), ring.last(), "rings are closed: {hospital}");
    }

    #[test]
    fn a_zone_is_active_only_inside_its_time_window() {
        let mut region = Region::demo();
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap();
        region.zones[0].time = Applicability::between(start, end);
        let id = region.zones[0].id.clone();
        let during = region_geojson(&region, start + chrono::Duration::minutes(30));
        let after = region_geojson(&region, end);
        assert_eq!(zone(&during, &id)["properties"]["active"], true);
        assert_eq!(zone(&after, &id)["properties"]["active"], false);
        assert!(zone(&after, &id)["properties"]["when"]
            .as_str()
            .unwrap()
            .contains("until 2026-11-24 16:00 UTC"));
    }

    #[test]
    fn a_circular_zone_is_a_point_with_its_radius() {
        let mut region = Region::demo();
        region.zones[0].shape = ZoneShape::Circle {
            center: (114.4, 30.5),
            radius_m: 250.0,
        };
        let id = region.zones[0].id.clone();
        let collection = region_geojson(&region, Utc::now());
        let feature = zone(&collection, &id);
        assert_eq!(feature["geometry"]["type"], "Point");
        assert_eq!(feature["properties"]["radius_m"], 250.0);
    }
}
