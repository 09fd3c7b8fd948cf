//! `skyshare zones ...`: import and check zone files from the command line.
//! The IO edge around `airspace`: reads files, prints explanations.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::airspace::detour::DetourRequest;
use crate::airspace::import::{self, geojson, validate};
use crate::airspace::route_check::timed_route;
use crate::airspace::{region_index, AirspaceFrame, CheckOptions, ZoneIndex, ZoneKind};
use crate::dispatcher::import_into_store;
use crate::region::Region;
use crate::store::Store;

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
    /// Check a route (GeoJSON LineString of [lon, lat, alt m AGL]) leg by
    /// leg and print every conflict with its explanation.
    Check {
        route: PathBuf,
        /// Take-off time, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Zone file (any importable format); default: the demo region.
        #[arg(long)]
        zones: Option<PathBuf>,
        /// Local UTC offset for weekly schedules of a --zones file.
        #[arg(long, default_value_t = 8)]
        utc_offset_hours: i32,
        #[arg(long, default_value_t = 10.0)]
        speed_m_s: f64,
        /// Position uncertainty plus margin, metres each side.
        #[arg(long, default_value_t = 10.0)]
        buffer_m: f64,
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
                println!(
                    "  {:<12} {:<22} {:<20} {}",
                    z.id,
                    z.kind.to_string(),
                    z.band.to_string(),
                    z.time.describe()
                );
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
        ZonesCommand::Check {
            route,
            at,
            zones,
            utc_offset_hours,
            speed_m_s,
            buffer_m,
            authorised,
        } => {
            let start: DateTime<Utc> = match at {
                Some(t) => DateTime::parse_from_rfc3339(&t)
                    .with_context(|| format!("--at `{t}` is not an RFC 3339 time"))?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
            let points = read_route(&route)?;
            let index = match zones {
                None => region_index(&Region::demo()),
                Some(file) => {
                    let (_, zones) = import::import(&read(&file)?)
                        .with_context(|| format!("in {}", file.display()))?;
                    let (lon, lat) = zones[0].shape.anchor();
                    ZoneIndex::build(zones, AirspaceFrame::new(lon, lat, utc_offset_hours))
                }
            };
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
                    alt_agl_m: wa.alt_agl_m.max(wb.alt_agl_m),
                    start: wa.time,
                    // A detour is longer than the leg: allow for it.
                    end: wb.time + (wb.time - wa.time) * 2,
                    buffer_m,
                };
                match index.detour(&request) {
                    Ok(d) => println!(
                        "  detour for leg {}: {} (+{:.0} m)",
                        c.leg,
                        d.waypoints
                            .iter()
                            .map(|(lon, lat)| format!("{lon:.6},{lat:.6}"))
                            .collect::<Vec<_>>()
                            .join(" -> "),
                        d.length_m - d.direct_length_m
                    ),
                    Err(e) => println!("  no detour for leg {}: {e}", c.leg),
                }
            }
            if blocking > 0 {
                bail!("route refused: {blocking} blocking conflict(s)");
            }
            println!(
                "route clear: {} legs checked against {} zones",
                points.len().saturating_sub(1),
                index.len()
            );
            Ok(())
        }
    }
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
    let default_alt = props["alt_m"].as_f64().unwrap_or(60.0);
    let coords = geometry["coordinates"]
        .as_array()
        .filter(|c| c.len() >= 2)
        .with_context(|| format!("{}: a route needs at least 2 positions", path.display()))?;
    coords
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (lon, lat) = validate::geojson_position(c)
                .map_err(|e| anyhow::anyhow!("{}: position {i}: {e}", path.display()))?;
            let alt = c.get(2).and_then(Value::as_f64).unwrap_or(default_alt);
            if !alt.is_finite() {
                bail!("{}: position {i}: altitude is not a number", path.display());
            }
            Ok((lon, lat, alt))
        })
        .collect()
}
