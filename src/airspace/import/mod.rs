//! Zone files in, zone files out. Every format is validated the same way:
//! each bad feature is named with every reason found, and a file with any
//! bad feature imports nothing.

pub mod ed269;
pub mod geojson;
pub mod qgc_plan;
pub mod validate;

use std::fmt;

use serde_json::Value;

use super::zone::Zone;

/// One thing wrong with one feature of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where, e.g. "features[3] `Z-HOSP`".
    pub feature: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.feature, self.reason)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} problem(s), nothing imported:\n  {}", .problems.len(), .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct ImportError {
    pub problems: Vec<Problem>,
}

impl ImportError {
    pub fn file(reason: impl Into<String>) -> ImportError {
        ImportError {
            problems: vec![Problem {
                feature: "file".into(),
                reason: reason.into(),
            }],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Ed269,
    QgcPlan,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::GeoJson => "GeoJSON",
            Format::Ed269 => "ED-269",
            Format::QgcPlan => "QGroundControl plan",
        })
    }
}

/// Tells the format from the content: a `.plan` says `fileType: Plan`; an
/// ED-269 feature has `identifier` and a `geometry` array; GeoJSON features
/// have `type: Feature`, and a bare GeoJSON Feature is a one-zone file.
pub fn detect(root: &Value) -> Option<Format> {
    if root["fileType"] == "Plan" || root.get("geoFence").is_some() {
        return Some(Format::QgcPlan);
    }
    if root["type"] == "Feature" {
        return Some(Format::GeoJson);
    }
    let first = root["features"].as_array()?.first();
    match first {
        Some(f) if f.get("identifier").is_some() || f["geometry"].is_array() => Some(Format::Ed269),
        _ if root["type"] == "FeatureCollection" => Some(Format::GeoJson),
        Some(f) if f["type"] == "Feature" => Some(Format::GeoJson),
        _ => None,
    }
}

/// Parses a zone file of any supported format.
pub fn import(text: &str) -> Result<(Format, Vec<Zone>), ImportError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ImportError::file(format!("not JSON: {e}")))?;
    let format = detect(&root).ok_or_else(|| match root.get("features") {
        Some(f) if !f.is_array() => ImportError::file(format!(
            "`features` must be an array of features, found {}",
            validate::show(f)
        )),
        None if root["type"] == "FeatureCollection" => {
            ImportError::file("the FeatureCollection has no `features` array")
        }
        _ => ImportError::file(
            "not a GeoJSON FeatureCollection or Feature, an ED-269 zone file or a QGroundControl .plan",
        ),
    })?;
    let zones = match format {
        Format::GeoJson => geojson::import(&root)?,
        Format::Ed269 => ed269::import(&root)?,
        Format::QgcPlan => qgc_plan::import(&root)?,
    };
    Ok((format, zones))
}

/// Turns per-feature results into all the zones or all the problems, and
/// refuses two zones with one id.
pub(crate) fn collect(
    results: Vec<(String, Result<Zone, Vec<String>>)>,
) -> Result<Vec<Zone>, ImportError> {
    let mut zones = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (feature, r) in results {
        match r {
            Ok(z) => {
                if let Some(first) = seen.insert(z.id.clone(), feature.clone()) {
                    problems.push(Problem {
                        feature,
                        reason: format!("id `{}` is already used by {first}", z.id),
                    });
                } else {
                    zones.push(z);
                }
            }
            Err(reasons) => problems.extend(reasons.into_iter().map(|reason| Problem {
                feature: feature.clone(),
                reason,
            })),
        }
    }
    if zones.is_empty() && problems.is_empty() {
        problems.push(Problem {
            feature: "file".into(),
            reason: "no zones in the file".into(),
        });
    }
    if problems.is_empty() {
        Ok(zones)
    } else {
        Err(ImportError { problems })
    }
}
