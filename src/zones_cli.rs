//! `skyshare zones ...`: import and check zone files from the command line.
//! The IO edge around `airspace`: reads files, prints explanations.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::airspace::detour::DetourRequest;
use crate::airspace::geom::wrap_degrees;
use crate::airspace::import::{self, geojson, validate};
use crate::airspace::route_check::timed_route;
use crate::airspace::{
    region_index, AirspaceFrame, AltitudeReference, CheckOptions, VerticalContext, Zone, ZoneIndex,
    ZoneKind,
};
use crate::dispatcher::{import_into_store, read_stored};
use crate::region::Region;
use crate::store::Store;

/// `zones check`'s answer when the route may not be flown (exit code 1;
/// bad input and other errors exit with 2).
#[derive(Debug, thiserror::Error)]
#[error("route refused: {blocking} blocking conflict(s)")]
pub struct RouteRefused {
    pub blocking: usize,
}

#[derive(Debug, clap::Subcommand)]
pub enum ZonesCommand {
    /// Import a zone file (GeoJSON, ED-269 JSON or QGroundControl .plan)
    /// into the store: all its zones or, if any is bad or its id is taken,
    /// none, with every problem listed. The dispatcher puts stored zones in
    /// force when it starts. With --export, also write them out as GeoJSON.
    Import {
        file: PathBuf,
        /// The dispatcher's database (same default as `serve --database`).
        #[arg(long, default_value = "sqlite://skyshare.sqlite?mode=rwc")]
        db: String,
        /// Validate and print only; store nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// List the zones stored in the database by `zones import`.
    List {
        /// The dispatcher's database (same default as `serve --database`).
        #[arg(long, default_value = "sqlite://skyshare.sqlite?mode=rwc")]
        db: String,
    },
    /// Delete a stored zone by id. A running dispatcher keeps it in force
    /// until it restarts; `DELETE /api/v1/zones/{id}` lifts it at once.
    Delete {
        id: String,
        /// The dispatcher's database (same default as `serve --database`).
        #[arg(long, default_value = "sqlite://skyshare.sqlite?mode=rwc")]
        db: String,
    },
    /// Check a route (GeoJSON LineString of [lon, lat, alt m AGL]) leg by
    /// leg and print every conflict with its explanation.
    ///
    /// By default the route is checked as the dispatcher would check it: the
    /// region map's zones (--region, default the demo region), the zones
    /// stored by `zones import` and the temporary restrictions stored in
    /// --db (those not ended by take-off). A SQLite database that does not
    /// exist is not created: the check then says it used the map alone.
    /// With --zones, that file's zones alone are checked (no map, no
    /// database): --zones cannot be combined with --db or --region.
    Check {
        route: PathBuf,
        /// Take-off time, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Zone file (any importable format), checked alone.
        #[arg(long, conflicts_with_all = ["db", "region"])]
        zones: Option<PathBuf>,
        /// The dispatcher's database, for its stored zones and restrictions
        /// (same default as `serve --database`).
        #[arg(long, default_value = "sqlite://skyshare.sqlite?mode=rwc")]
        db: String,
        /// Region GeoJSON the dispatcher serves (as `serve --region`);
        /// default: the bundled demo region.
        #[arg(long)]
        region: Option<PathBuf>,
        /// Local UTC offset for weekly schedules of a --zones file, and
        /// for the times printed.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i32).range(-12..=14))]
        utc_offset_hours: i32,
        /// Ground speed, metres a second (more than 0).
        #[arg(long, default_value_t = 10.0, value_parser = positive_number)]
        speed_m_s: f64,
        /// Position uncertainty plus margin, metres each side (0 or more).
        #[arg(long, default_value_t = 10.0, value_parser = non_negative_number)]
        buffer_m: f64,
        /// Height of the ground above mean sea level, metres, where the
        /// route flies: AMSL and WGS84 bands of a --zones file are turned
        /// into heights above it (the demo region has its own).
        #[arg(long, default_value_t = 0.0, value_parser = finite_number, allow_negative_numbers = true)]
        ground_amsl_m: f64,
        /// Geoid height above the WGS84 ellipsoid there, metres, for WGS84
        /// bands of a --zones file.
        #[arg(long, default_value_t = 0.0, value_parser = finite_number, allow_negative_numbers = true)]
        geoid_m: f64,
        /// Authorisation held for a zone id. Repeatable.
        #[arg(long = "authorised")]
        authorised: Vec<String>,
    },
}

pub async fn run(command: ZonesCommand) -> anyhow::Result<()> {
    match command {
        ZonesCommand::Import {
            file,
            db,
            dry_run,
            export,
        } => {
            let text = read(&file)?;
            let (format, zones) =
                import::import(&text).with_context(|| format!("in {}", file.display()))?;
            if !dry_run {
                let store = Store::connect(&db)
                    .await
                    .with_context(|| format!("opening {db}"))?;
                import_into_store(&store, &text, &[])
                    .await
                    .with_context(|| format!("in {}", file.display()))?;
            }
            println!(
                "{}: {format}, {} zone(s), all valid{}",
                file.display(),
                zones.len(),
                if dry_run {
                    String::new()
                } else {
                    format!(", stored in {db}")
                }
            );
            for z in &zones {
                print_zone(z);
            }
            if let Some(out) = export {
                let text = serde_json::to_string_pretty(&geojson::export(&zones))?;
                std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
                println!("exported to {}", out.display());
            }
            if dry_run {
                println!("(--dry-run: nothing stored)");
            }
            Ok(())
        }
        ZonesCommand::List { db } => {
            let store = existing_store(&db).await?;
            let stored = store.zones().await?;
            println!("{db}: {} stored zone(s)", stored.len());
            for z in &stored {
                // Each is kept as the GeoJSON it exports to.
                match import::import(&z.geojson) {
                    Ok((_, zones)) => {
                        for zone in &zones {
                            print_zone(zone);
                        }
                    }
                    Err(e) => println!("  {:<12} (unreadable: {e})", z.id),
                }
            }
            Ok(())
        }
        ZonesCommand::Delete { id, db } => {
            let store = existing_store(&db).await?;
            if !store.delete_zone(&id).await? {
                bail!("no stored zone has id `{id}` in {db} (`skyshare zones list` shows them)");
            }
            println!(
                "deleted zone `{id}` from {db}; a running dispatcher keeps it until it restarts"
            );
            Ok(())
        }
        ZonesCommand::Check {
            route,
            at,
            zones,
            db,
            region,
            utc_offset_hours,
            speed_m_s,
            buffer_m,
            ground_amsl_m,
            geoid_m,
            authorised,
        } => {
            let start: DateTime<Utc> = match at {
                Some(t) => DateTime::parse_from_rfc3339(&t)
                    .with_context(|| format!("--at `{t}` is not an RFC 3339 time"))?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
            let points = read_route(&route)?;
            let (index, checked_against) = match zones {
                None => {
                    let mut region = match &region {
                        None => Region::demo(),
                        Some(file) => Region::from_geojson(&read(file)?)
                            .with_context(|| format!("in {}", file.display()))?,
                    };
                    let map = region.zones.len();
                    let stored = stored_in_force(&db, start).await?;
                    let against = match &stored {
                        Some(s) => format!(
                            "{map} map zone(s), {} stored zone(s), {} restriction(s) in force",
                            s.zones.len(),
                            s.restrictions.len()
                        ),
                        None => format!("{map} map zone(s) only (no stored zones or restrictions)"),
                    };
                    if let Some(s) = stored {
                        region.zones.extend(s.zones);
                        region.zones.extend(s.restrictions);
                    }
                    (region_index(&region), against)
                }
                Some(file) => {
                    let (_, zones) = import::import(&read(&file)?)
                        .with_context(|| format!("in {}", file.display()))?;
                    // Metres about the middle of the route, where they are
                    // most accurate: the zones that matter are near it.
                    let (lon, lat) = middle(&points);
                    let mut frame = AirspaceFrame::new(lon, lat, utc_offset_hours);
                    frame.vertical = VerticalContext {
                        ground_amsl_m,
                        geoid_undulation_m: geoid_m,
                    };
                    let by_sea_level = zones
                        .iter()
                        .filter(|z| z.band.reference() != AltitudeReference::Agl)
                        .count();
                    if by_sea_level > 0 {
                        println!(
                            "note: {by_sea_level} zone(s) with AMSL or WGS84 bands, read with the ground {ground_amsl_m} m above mean sea level (--ground-amsl-m) and the geoid {geoid_m} m above the ellipsoid (--geoid-m)"
                        );
                    }
                    let against = format!("{} zone(s) of {}", zones.len(), file.display());
                    (ZoneIndex::build(zones, frame), against)
                }
            };
            println!("checking against {checked_against}");
            for id in &authorised {
                if !index.zones().iter().any(|z| &z.id == id) {
                    println!(
                        "note: --authorised {id} names no zone here (ids are matched exactly)"
                    );
                }
            }
            let waypoints = timed_route(&index, &points, start, speed_m_s);
            let options = CheckOptions {
                lateral_buffer_m: buffer_m,
                authorisations: authorised,
                ..CheckOptions::default()
            };
            let conflicts = index.check_route(&waypoints, &options);
            let blocking = conflicts.iter().filter(|c| c.is_blocking()).count();
            for c in &conflicts {
                println!("{c}");
            }
            let mut offered = Vec::new();
            for c in conflicts
                .iter()
                .filter(|c| c.is_blocking() && c.zone.kind != ZoneKind::OperatingArea)
            {
                if offered.contains(&c.leg) {
                    continue;
                }
                offered.push(c.leg);
                let (wa, wb) = (&waypoints[c.leg - 1], &waypoints[c.leg]);
                let request = DetourRequest {
                    from: (wa.lon, wa.lat),
                    to: (wb.lon, wb.lat),
                    alt_agl_m: (
                        wa.alt_agl_m.min(wb.alt_agl_m),
                        wa.alt_agl_m.max(wb.alt_agl_m),
                    ),
                    start: wa.time,
                    // A detour is longer than the leg: allow for it.
                    end: wb.time + (wb.time - wa.time) * 2,
                    buffer_m,
                    vertical_margin_m: options.vertical_margin_m,
                    authorisations: options.authorisations.clone(),
                };
                match index.detour(&request) {
                    Ok(d) => {
                        // A detour around a buffer alone may add less than
                        // a metre: not "+0 m".
                        let extra = d.length_m - d.direct_length_m;
                        let extra = if extra < 10.0 {
                            format!("{extra:.1}")
                        } else {
                            format!("{extra:.0}")
                        };
                        println!(
                            "  detour for leg {}: {} (+{extra} m)",
                            c.leg,
                            d.waypoints
                                .iter()
                                .map(|(lon, lat)| format!("{lon:.6},{lat:.6}"))
                                .collect::<Vec<_>>()
                                .join(" -> "),
                        )
                    }
                    Err(e) => println!("  no detour for leg {}: {e}", c.leg),
                }
            }
            if blocking > 0 {
                return Err(RouteRefused { blocking }.into());
            }
            println!(
                "route clear: {} legs checked against {checked_against}",
                points.len().saturating_sub(1),
            );
            Ok(())
        }
    }
}

/// What the dispatcher adds to its map at start-up: the stored zones and
/// the stored restrictions (those not ended by `start`).
struct Stored {
    zones: Vec<Zone>,
    restrictions: Vec<Zone>,
}

/// The store at `db`, which must exist already: listing or deleting
/// zones never creates a database (a mistyped path would look empty).
async fn existing_store(db: &str) -> anyhow::Result<Store> {
    if let Some(file) = sqlite_file(db) {
        if !file.exists() {
            bail!("no database at {} (--db {db})", file.display());
        }
    }
    Store::connect(db)
        .await
        .with_context(|| format!("opening {db}"))
}

/// Where a `sqlite:` URL keeps its database: `None` for another database
/// or one in memory.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Reads the zones and restrictions stored in `db` as the dispatcher puts
/// them in force, saying what was left out and why. `None`, with a note,
/// when `db` is a SQLite file that does not exist: a check creates none.
async fn stored_in_force(db: &str, start: DateTime<Utc>) -> anyhow::Result<Option<Stored>> {
    if let Some(file) = sqlite_file(db) {
        if !file.exists() {
            println!(
                "note: no database at {} (--db {db}): no stored zones or restrictions included",
                file.display()
            );
            return Ok(None);
        }
    }
    let store = Store::connect(db)
        .await
        .with_context(|| format!("opening {db}"))?;
    // Read back as the dispatcher reads them at start-up; a row that no
    // longer reads is not in force there either.
    let rows = store.zones().await?;
    let (zones, unreadable) = read_stored(rows.iter().map(|z| (z.id.as_str(), z.geojson.as_str())));
    let rows = store.restrictions().await?;
    let (read, unreadable_restrictions) =
        read_stored(rows.iter().map(|(id, text)| (id.as_str(), text.as_str())));
    for (what, (id, e)) in unreadable
        .iter()
        .map(|u| ("zone", u))
        .chain(unreadable_restrictions.iter().map(|u| ("restriction", u)))
    {
        println!("note: stored {what} `{id}` no longer reads, so it is not in force: {e}");
    }
    let mut restrictions = Vec::new();
    let mut ended = Vec::new();
    for r in read {
        if r.time.end.is_some_and(|end| end <= start) {
            ended.push(r.id);
        } else {
            restrictions.push(r);
        }
    }
    if !ended.is_empty() {
        println!(
            "note: restriction(s) {} ended before take-off; not included",
            ended.join(", ")
        );
    }
    Ok(Some(Stored {
        zones,
        restrictions,
    }))
}

fn print_zone(z: &crate::airspace::Zone) {
    println!(
        "  {:<12} {:<22} {:<20} {}",
        z.id,
        z.kind.to_string(),
        z.band.to_string(),
        z.time.describe()
    );
}

/// The middle of the route's box, in longitude and latitude, with
/// longitudes taken the short way from the first point's (a route across
/// the 180th meridian has its middle there, not at Greenwich).
fn middle(points: &[(f64, f64, f64)]) -> (f64, f64) {
    let lon0 = points.first().map_or(0.0, |p| p.0);
    let east_of_first = |lon: f64| wrap_degrees(lon - lon0);
    let (mut lo, mut hi) = (
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, f64::NEG_INFINITY),
    );
    for &(lon, lat, _) in points {
        let x = east_of_first(lon);
        lo = (lo.0.min(x), lo.1.min(lat));
        hi = (hi.0.max(x), hi.1.max(lat));
    }
    (
        wrap_degrees(lon0 + (lo.0 + hi.0) / 2.0),
        (lo.1 + hi.1) / 2.0,
    )
}

fn finite_number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("`{s}` is not a finite number")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

fn non_negative_number(s: &str) -> Result<f64, String> {
    finite_number(s).and_then(|v| {
        if v >= 0.0 {
            Ok(v)
        } else {
            Err(format!("{v} is negative; give 0 or more"))
        }
    })
}

fn positive_number(s: &str) -> Result<f64, String> {
    finite_number(s).and_then(|v| {
        if v > 0.0 {
            Ok(v)
        } else {
            Err(format!("{v} is not more than 0"))
        }
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// A LineString (bare geometry, Feature or the first feature of a
/// FeatureCollection); altitude from the third coordinate, else
/// `properties.alt_m`, else 60 m.
fn read_route(path: &Path) -> anyhow::Result<Vec<(f64, f64, f64)>> {
    let root: Value = serde_json::from_str(&read(path)?)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let feature = match root["type"].as_str() {
        Some("FeatureCollection") => root["features"][0].clone(),
        _ => root,
    };
    let (geometry, props) = if feature["type"] == "Feature" {
        (feature["geometry"].clone(), feature["properties"].clone())
    } else {
        (feature, Value::Null)
    };
    if geometry["type"] != "LineString" {
        bail!(
            "{}: the route must be a LineString, found {}",
            path.display(),
            geometry["type"]
        );
    }
    let default_alt = match &props["alt_m"] {
        Value::Null => 60.0,
        v => v
            .as_f64()
            .filter(|a| a.is_finite())
            .with_context(|| format!("{}: properties.alt_m {v} is not a number", path.display()))?,
    };
    let coords = geometry["coordinates"]
        .as_array()
        .filter(|c| c.len() >= 2)
        .with_context(|| format!("{}: a route needs at least 2 positions", path.display()))?;
    // Every problem is reported, positions first: a swapped pair is the
    // bigger slip, and the altitude rule below counts positions.
    let (mut bad_positions, mut problems) = (Vec::new(), Vec::new());
    let mut points = Vec::with_capacity(coords.len());
    for (i, c) in coords.iter().enumerate() {
        let position = validate::geojson_position(c).map_err(|e| format!("position {i}: {e}"));
        let alt = match c.get(2) {
            None => Ok(default_alt),
            Some(v) => v
                .as_f64()
                .filter(|a| a.is_finite())
                .ok_or_else(|| format!("position {i}: altitude {v} is not a number")),
        };
        match (position, alt) {
            (Ok((lon, lat)), Ok(alt)) => points.push((lon, lat, alt)),
            (p, a) => {
                bad_positions.extend(p.err());
                problems.extend(a.err());
            }
        }
    }
    // The first bad position in full; a swapped file has them all, so the
    // rest are counted.
    if let Some(first) = bad_positions.first() {
        let more = bad_positions.len() - 1;
        problems.insert(
            0,
            match more {
                0 => first.clone(),
                1 => format!("{first} (and 1 more bad position)"),
                _ => format!("{first} (and {more} more bad positions)"),
            },
        );
    }
    // Every position has its altitude or none has: a missing one among
    // given ones is more likely a slip than the default height.
    let with_alt = coords.iter().filter(|c| c.get(2).is_some()).count();
    if with_alt != 0 && with_alt != coords.len() {
        let i = coords.iter().position(|c| c.get(2).is_none()).unwrap_or(0);
        problems.push(format!(
            "position {i} has no altitude while {with_alt} other(s) have one; give every position [lon, lat, alt m AGL], or none (then properties.alt_m, else 60 m, applies)"
        ));
    }
    match problems.len() {
        0 => Ok(points),
        1 => bail!("{}: {}", path.display(), problems[0]),
        n => bail!(
            "{}: {n} problems in the route:\n  {}",
            path.display(),
            problems.join("\n  ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_its_file_and_memory_or_postgres_names_none() {
        for (url, file) in [
            ("sqlite://skyshare.sqlite?mode=rwc", Some("skyshare.sqlite")),
            (
                "sqlite:///tmp/x/db.sqlite?mode=rwc",
                Some("/tmp/x/db.sqlite"),
            ),
            ("sqlite:data.db", Some("data.db")),
            ("sqlite::memory:", None),
            ("sqlite://", None),
            ("postgres://user@host/db", None),
        ] {
            assert_eq!(sqlite_file(url), file.map(PathBuf::from), "{url}");
        }
    }

    #[test]
    fn a_route_across_the_180th_meridian_has_its_middle_there() {
        let (lon, lat) = middle(&[(179.99, 10.0, 60.0), (-179.99, 10.2, 60.0)]);
        assert!((lon.abs() - 180.0).abs() < 1e-9, "{lon}");
        assert!((lat - 10.1).abs() < 1e-9, "{lat}");
        let (lon, _) = middle(&[(114.39, 30.5, 60.0), (114.41, 30.5, 60.0)]);
        assert!((lon - 114.40).abs() < 1e-9, "{lon}");
    }
}
