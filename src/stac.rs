//! The imagery catalogue as a STAC API (v1.1.0 documents, API v1.0.0
//! classes): search parameters read from a query string or a JSON body,
//! GeoJSON geometries, and the landing page, collections and items built
//! from catalogue rows. Pure: the HTTP handlers and the store do the IO.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon,
    Point, Polygon,
};
use serde_json::{json, Value};

use crate::footprint::ImageAttitude;
use crate::store::{CatalogueRow, DepartmentRow};

pub const STAC_VERSION: &str = "1.1.0";

pub const CONFORMANCE: [&str; 3] = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
];

pub const DEFAULT_LIMIT: usize = 10;
/// Larger limits are lowered to this rather than refused.
pub const MAX_LIMIT: usize = 1000;

/// A search parameter that does not fit, and which one.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchError {
    pub field: &'static str,
    pub message: String,
}

fn bad<T>(field: &'static str, message: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError {
        field,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Search {
    pub bbox: Option<[f64; 4]>,
    /// As given (for paging links) and as a geometry (for the test).
    pub intersects: Option<(Value, Geometry)>,
    pub datetime: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub collections: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub limit: usize,
    /// Items skipped: the paging token.
    pub offset: usize,
}

/// An RFC 3339 instant, or an interval `start/end` with `..` or nothing for
/// an open end; gives (from, to) in ms since the epoch.
pub fn parse_datetime(text: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let instant = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc).timestamp_millis())
            .map_err(|e| format!("`{t}` is not an RFC 3339 date-time: {e}"))
    };
    match text.split_once('/') {
        None => {
            let at = instant(text)?;
            Ok((Some(at), Some(at)))
        }
        Some((start, end)) => {
            let open = |t: &str| t.is_empty() || t == "..";
            if open(start) && open(end) {
                return Err("an interval needs at least one closed end".into());
            }
            let from = if open(start) {
                None
            } else {
                Some(instant(start)?)
            };
            let to = if open(end) { None } else { Some(instant(end)?) };
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    return Err("the interval's start is after its end".into());
                }
            }
            Ok((from, to))
        }
    }
}

fn parse_bbox(values: &[f64]) -> Result<[f64; 4], SearchError> {
    let b = match values {
        [w, s, e, n] => [*w, *s, *e, *n],
        [w, s, _, e, n, _] => [*w, *s, *e, *n],
        _ => {
            return bad(
                "bbox",
                format!("bbox needs 4 or 6 numbers, got {}", values.len()),
            )
        }
    };
    if b.iter().any(|v| !v.is_finite()) || b[1] > b[3] || b[1] < -90.0 || b[3] > 90.0 {
        return bad(
            "bbox",
            "bbox is west, south, east, north with south <= north, in degrees",
        );
    }
    if b[0] > b[2] {
        return bad("bbox", "bbox crossing the antimeridian is not supported");
    }
    Ok(b)
}

fn coord(v: &Value) -> Result<Coord, String> {
    match v.as_array().map(Vec::as_slice) {
        Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok(Coord { x, y }),
            _ => Err("a position is [lon, lat] numbers".into()),
        },
        _ => Err("a position is [lon, lat]".into()),
    }
}

fn list<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} must be an array"))
}

fn line(v: &Value) -> Result<LineString, String> {
    Ok(LineString::new(
        list(v, "a line")?
            .iter()
            .map(coord)
            .collect::<Result<_, _>>()?,
    ))
}

fn polygon(v: &Value) -> Result<Polygon, String> {
    let rings = list(v, "a polygon")?;
    let mut rings = rings.iter().map(line);
    let exterior = rings.next().ok_or("a polygon needs a ring")??;
    if exterior.0.len() < 4 {
        return Err("a polygon ring needs at least 4 positions".into());
    }
    Ok(Polygon::new(exterior, rings.collect::<Result<_, _>>()?))
}

/// A GeoJSON geometry object as a `geo` geometry.
pub fn geometry(v: &Value) -> Result<Geometry, String> {
    let kind = v["type"].as_str().ok_or("a geometry needs a `type`")?;
    if kind == "GeometryCollection" {
        let parts = list(&v["geometries"], "geometries")?;
        return Ok(Geometry::GeometryCollection(GeometryCollection::new_from(
            parts.iter().map(geometry).collect::<Result<_, _>>()?,
        )));
    }
    let c = &v["coordinates"];
    Ok(match kind {
        "Point" => Geometry::Point(Point::from(coord(c)?)),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint::new(
            list(c, "coordinates")?
                .iter()
                .map(|p| coord(p).map(Point::from))
                .collect::<Result<_, _>>()?,
        )),
        "LineString" => Geometry::LineString(line(c)?),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString::new(
            list(c, "coordinates")?
                .iter()
                .map(line)
                .collect::<Result<_, _>>()?,
        )),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon::new(
            list(c, "coordinates")?
                .iter()
                .map(polygon)
                .collect::<Result<_, _>>()?,
        )),
        other => return Err(format!("unknown geometry type `{other}`")),
    })
}

fn bounds(g: &Geometry) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    g.bounding_rect()
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

impl Search {
    /// The bbox the store's index is asked for: the given one, or the
    /// bounds of `intersects`.
    pub fn index_bbox(&self) -> Option<[f64; 4]> {
        self.bbox
            .or_else(|| self.intersects.as_ref().and_then(|(_, g)| bounds(g)))
    }

    /// Whether a catalogue row passes the exact geometry test.
    pub fn matches(&self, row: &CatalogueRow) -> bool {
        use geo::Intersects;
        let Some((_, wanted)) = &self.intersects else {
            return true;
        };
        match geometry(&row.geometry) {
            Ok(footprint) => footprint.intersects(wanted),
            Err(_) => false,
        }
    }

    fn finish(mut self, limit: Option<i64>, token: Option<&str>) -> Result<Search, SearchError> {
        if self.bbox.is_some() && self.intersects.is_some() {
            return bad("intersects", "give bbox or intersects, not both");
        }
        self.limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if l < 1 => return bad("limit", "limit must be 1 or more"),
            Some(l) => (l as usize).min(MAX_LIMIT),
        };
        self.offset = match token {
            None => 0,
            Some(t) => match t.strip_prefix("next:").and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None => return bad("token", format!("`{t}` is not a paging token of this API")),
            },
        };
        if let Some(text) = &self.datetime {
            let (from, to) = parse_datetime(text).map_err(|m| SearchError {
                field: "datetime",
                message: m,
            })?;
            self.from_ms = from;
            self.to_ms = to;
        }
        Ok(self)
    }

    /// From a GET query string: lists comma-separated, `intersects` as JSON.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Search, SearchError> {
        let mut s = Search::default();
        let split = |t: &str| {
            t.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        };
        if let Some(b) = q.get("bbox") {
            let numbers: Result<Vec<f64>, _> =
                b.split(',').map(|p| p.trim().parse::<f64>()).collect();
            let numbers =
                numbers.or_else(|_| bad("bbox", "bbox must be comma-separated numbers"))?;
            s.bbox = Some(parse_bbox(&numbers)?);
        }
        if let Some(i) = q.get("intersects") {
            let v: Value = serde_json::from_str(i)
                .or_else(|e| bad("intersects", format!("intersects is not JSON: {e}")))?;
            let g = geometry(&v).map_err(|m| SearchError {
                field: "intersects",
                message: m,
            })?;
            s.intersects = Some((v, g));
        }
        s.datetime = q.get("datetime").cloned();
        s.collections = q.get("collections").map(|c| split(c));
        s.ids = q.get("ids").map(|c| split(c));
        let limit = match q.get("limit") {
            None => None,
            Some(l) => Some(
                l.trim()
                    .parse::<i64>()
                    .or_else(|_| bad("limit", "limit must be an integer"))?,
            ),
        };
        s.finish(limit, q.get("token").map(String::as_str))
    }

    /// From a POST body (a JSON object).
    pub fn from_body(body: &Value) -> Result<Search, SearchError> {
        let Some(o) = body.as_object() else {
            return bad("body", "the search body must be a JSON object");
        };
        let mut s = Search::default();
        let strings = |field: &'static str| -> Result<Option<Vec<String>>, SearchError> {
            match o.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or(()))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
                    .or_else(|_| bad(field, format!("{field} must be an array of strings"))),
                Some(_) => bad(field, format!("{field} must be an array of strings")),
            }
        };
        s.collections = strings("collections")?;
        s.ids = strings("ids")?;
        match o.get("bbox") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                let numbers: Option<Vec<f64>> = a.iter().map(Value::as_f64).collect();
                let numbers = numbers.map_or_else(|| bad("bbox", "bbox must be numbers"), Ok)?;
                s.bbox = Some(parse_bbox(&numbers)?);
            }
            Some(_) => return bad("bbox", "bbox must be an array of numbers"),
        }
        match o.get("intersects") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let g = geometry(v).map_err(|m| SearchError {
                    field: "intersects",
                    message: m,
                })?;
                s.intersects = Some((v.clone(), g));
            }
        }
        match o.get("datetime") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) => s.datetime = Some(t.clone()),
            Some(_) => return bad("datetime", "datetime must be a string"),
        }
        let limit = match o.get("limit") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .map_or_else(|| bad("limit", "limit must be an integer"), Ok)?,
            ),
        };
        let token = match o.get("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => return bad("token", "token must be a string"),
        };
        s.finish(limit, token)
    }

    /// The next page's parameters as a GET query string.
    pub fn next_query(&self) -> String {
        let mut parts: Vec<(String, String)> = Vec::new();
        if let Some(b) = self.bbox {
            parts.push((
                "bbox".into(),
                b.iter().map(f64::to_string).collect::<Vec<_>>().join(","),
            ));
        }
        if let Some((v, _)) = &self.intersects {
            parts.push(("intersects".into(), v.to_string()));
        }
        if let Some(d) = &self.datetime {
            parts.push(("datetime".into(), d.clone()));
        }
        if let Some(c) = &self.collections {
            parts.push(("collections".into(), c.join(",")));
        }
        if let Some(i) = &self.ids {
            parts.push(("ids".into(), i.join(",")));
        }
        parts.push(("limit".into(), self.limit.to_string()));
        parts.push(("token".into(), format!("next:{}", self.offset + self.limit)));
        parts
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The next page's POST body.
    pub fn next_body(&self) -> Value {
        let mut body =
            json!({"limit": self.limit, "token": format!("next:{}", self.offset + self.limit)});
        if let Some(b) = self.bbox {
            body["bbox"] = json!(b);
        }
        if let Some((v, _)) = &self.intersects {
            body["intersects"] = v.clone();
        }
        if let Some(d) = &self.datetime {
            body["datetime"] = json!(d);
        }
        if let Some(c) = &self.collections {
            body["collections"] = json!(c);
        }
        if let Some(i) = &self.ids {
            body["ids"] = json!(i);
        }
        body
    }
}

/// Percent-encoding of a query value (unreserved characters kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn link(rel: &str, href: String, kind: &str) -> Value {
    json!({"rel": rel, "href": href, "type": kind})
}

pub fn landing(root: &str) -> Value {
    json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "skyshare",
        "title": "skyshare imagery",
        "description": "Photos taken by the shared drone fleet, one collection per department; a caller sees only the collections its role allows.",
        "conformsTo": CONFORMANCE,
        "links": [
            link("self", root.to_owned(), "application/json"),
            link("root", root.to_owned(), "application/json"),
            link("conformance", format!("{root}/conformance"), "application/json"),
            link("data", format!("{root}/collections"), "application/json"),
            {"rel": "search", "href": format!("{root}/search"), "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": format!("{root}/search"), "type": "application/geo+json", "method": "POST"},
            link("service-desc", root.trim_end_matches("/stac").to_owned() + "/openapi.json", crate::api::openapi::MEDIA_TYPE),
            link("service-doc", root.trim_end_matches("/stac").to_owned() + "/docs", "text/html"),
        ]
    })
}

pub fn collection(root: &str, department: &DepartmentRow, extent: [f64; 4]) -> Value {
    let id = &department.id;
    json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": id,
        "title": department.name,
        "description": format!("Drone photos taken for {}", department.name),
        "license": "other",
        "extent": {"spatial": {"bbox": [extent]}, "temporal": {"interval": [[null, null]]}},
        "links": [
            link("self", format!("{root}/collections/{id}"), "application/json"),
            link("root", root.to_owned(), "application/json"),
            link("parent", root.to_owned(), "application/json"),
            link("items", format!("{root}/collections/{id}/items"), "application/geo+json"),
        ]
    })
}

/// One photo as a STAC Item; with its camera attitude, the view angles
/// and the attitude and gimbal angles themselves.
pub fn item(root: &str, row: &CatalogueRow, attitude: Option<&ImageAttitude>) -> Value {
    let c = &row.department_id;
    let mut assets = serde_json::Map::new();
    if let Some(url) = &row.file_url {
        assets.insert(
            "image".into(),
            json!({"href": url, "type": "image/jpeg", "roles": ["data"], "title": "the photo as taken"}),
        );
    }
    assets.insert(
        "metadata".into(),
        json!({"href": format!("{root}/collections/{c}/items/{}", row.image_id), "type": "application/geo+json", "roles": ["metadata"], "title": "this record"}),
    );
    let mut properties = json!({
        "datetime": rfc3339(row.captured_at_ms),
        "platform": row.drone_id,
        "instruments": [row.sensor],
        "view:off_nadir": 0.0,
        "skyshare:task_id": row.task_id,
        "skyshare:alt_msl_m": row.alt_msl_m,
        "skyshare:alt_rel_m": row.alt_rel_m,
        "skyshare:camera_lat_deg": row.lat_deg,
        "skyshare:camera_lon_deg": row.lon_deg,
    });
    if let Some(gsd) = row.gsd_m {
        properties["gsd"] = json!(gsd);
    }
    if let Some(a) = attitude {
        properties["view:off_nadir"] = json!(a.camera.off_nadir_deg());
        if let Some(azimuth) = a.camera.azimuth_deg() {
            properties["view:azimuth"] = json!(azimuth);
        }
        properties["skyshare:camera_quaternion"] = json!(a.camera.q);
        properties["skyshare:camera_roll_deg"] = json!(a.camera.roll_deg);
        properties["skyshare:camera_pitch_deg"] = json!(a.camera.pitch_deg);
        properties["skyshare:camera_yaw_deg"] = json!(a.camera.yaw_deg);
        properties["skyshare:gimbal_pitch_deg"] = json!(a.gimbal_pitch_deg);
        properties["skyshare:gimbal_yaw_deg"] = json!(a.gimbal_yaw_deg);
        properties["skyshare:vehicle_heading_deg"] = json!(a.vehicle_heading_deg);
    }
    json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": ["https://stac-extensions.github.io/view/v1.0.0/schema.json"],
        "id": row.image_id,
        "collection": c,
        "geometry": row.geometry,
        "bbox": row.bbox,
        "properties": properties,
        "links": [
            link("self", format!("{root}/collections/{c}/items/{}", row.image_id), "application/geo+json"),
            link("parent", format!("{root}/collections/{c}"), "application/json"),
            link("collection", format!("{root}/collections/{c}"), "application/json"),
            link("root", root.to_owned(), "application/json"),
        ],
        "assets": assets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn datetimes_are_instants_or_half_open_intervals_and_bad_ones_are_refused() {
        assert_eq!(
            parse_datetime("1970-01-01T00:00:01Z"),
            Ok((Some(1000), Some(1000)))
        );
        assert_eq!(
            parse_datetime("../1970-01-01T00:00:01Z"),
            Ok((None, Some(1000)))
        );
        assert_eq!(
            parse_datetime("1970-01-01T00:00:01+00:00/"),
            Ok((Some(1000), None))
        );
        for bad in [
            "2020-1-1",
            "../..",
            "1970-01-01T00:00:02Z/1970-01-01T00:00:01Z",
            "yesterday",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn get_parameters_are_read_and_limits_clamped() {
        let s = Search::from_query(&query(&[
            ("bbox", "114.3,30.4,114.5,30.6"),
            ("limit", "100000"),
            ("collections", "a,b"),
        ]))
        .unwrap();
        assert_eq!(s.bbox, Some([114.3, 30.4, 114.5, 30.6]));
        assert_eq!(s.limit, MAX_LIMIT);
        assert_eq!(s.collections, Some(vec!["a".into(), "b".into()]));
        let both = Search::from_query(&query(&[
            ("bbox", "0,0,1,1"),
            ("intersects", r#"{"type":"Point","coordinates":[0,0]}"#),
        ]));
        assert_eq!(both.unwrap_err().field, "intersects");
        assert_eq!(
            Search::from_query(&query(&[("bbox", "0,0,1")]))
                .unwrap_err()
                .field,
            "bbox"
        );
        assert_eq!(
            Search::from_query(&query(&[("limit", "0")]))
                .unwrap_err()
                .field,
            "limit"
        );
        assert_eq!(
            Search::from_query(&query(&[("token", "x")]))
                .unwrap_err()
                .field,
            "token"
        );
    }

    #[test]
    fn the_next_page_repeats_the_search_one_page_on() {
        let s = Search::from_body(&json!({"intersects": {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}, "limit": 5})).unwrap();
        assert_eq!(s.index_bbox(), Some([1.0, 2.0, 1.0, 2.0]));
        let next = Search::from_body(&s.next_body()).unwrap();
        assert_eq!((next.offset, next.limit), (5, 5));
        let q: HashMap<String, String> = s
            .next_query()
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                let bytes = v.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                (k.to_owned(), String::from_utf8(out).unwrap())
            })
            .collect();
        let again = Search::from_query(&q).unwrap();
        assert_eq!(again.offset, 5);
        assert_eq!(again.intersects.unwrap().0, s.intersects.unwrap().0);
    }

    #[test]
    fn geometries_of_every_geojson_type_are_read_and_bad_ones_named() {
        for g in [
            json!({"type": "Point", "coordinates": [1, 2]}),
            json!({"type": "MultiPoint", "coordinates": [[1, 2]]}),
            json!({"type": "LineString", "coordinates": [[1, 2], [3, 4]]}),
            json!({"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]]]}),
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
            json!({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}),
            json!({"type": "GeometryCollection", "geometries": []}),
        ] {
            assert!(geometry(&g).is_ok(), "{g}");
        }
        assert!(geometry(&json!({"type": "Circle"}))
            .unwrap_err()
            .contains("Circle"));
        assert!(geometry(&json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]})).is_err());
    }
}
