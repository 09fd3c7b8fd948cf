//! Imported zones at run time: zone files an administrator imports (API or
//! `skyshare zones import`) are stored, come back into force at start-up
//! beside the region map's zones, and every change publishes a new zone
//! index in one swap, so a check never sees half an import.

use chrono::Utc;

use super::Dispatcher;
use crate::airspace::import::{self, ImportError, Problem};
use crate::airspace::Zone;
use crate::store::{Store, StoreError, StoredZone};

/// Zones stored as zone-file text (imported zones, restrictions), read back
/// as they are put in force: those that read, and the ids of the rows that
/// no longer do, with why (the dispatcher logs them, the CLI says so).
pub fn read_stored<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Vec<Zone>, Vec<(String, ImportError)>) {
    let mut zones = Vec::new();
    let mut unreadable = Vec::new();
    for (id, text) in rows {
        match import::import(text) {
            Ok((_, read)) => zones.extend(read),
            Err(error) => unreadable.push((id.to_owned(), error)),
        }
    }
    (zones, unreadable)
}

/// Why an import stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum ZoneImportError {
    /// Every problem found, per feature: the file's own, and ids already
    /// taken by the map, a stored zone or a restriction.
    #[error("{0}")]
    Invalid(ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a zone could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum ZoneDeleteError {
    #[error("no imported zone `{0}`")]
    Unknown(String),
    /// Map zones come from the region file; restrictions have their own route.
    #[error("zone `{0}` is {1}; it cannot be deleted here")]
    NotImported(String, &'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Each zone as the GeoJSON kept in the store.
pub fn stored_form(zones: &[Zone]) -> Vec<StoredZone> {
    zones
        .iter()
        .map(|z| StoredZone {
            id: z.id.clone(),
            geojson: import::geojson::export(std::slice::from_ref(z)).to_string(),
        })
        .collect()
}

/// Parses a zone file and stores all its zones or none. `taken` are ids in
/// force that are not in the store (the map's, the restrictions'); ids
/// already stored are found in the store. Returns the stored zones.
pub async fn import_into_store(
    store: &Store,
    text: &str,
    taken: &[String],
) -> Result<Vec<Zone>, ZoneImportError> {
    let (_, zones) = import::import(text).map_err(ZoneImportError::Invalid)?;
    let ids: Vec<String> = zones.iter().map(|z| z.id.clone()).collect();
    let stored = store.stored_zone_ids(&ids).await?;
    let problems: Vec<Problem> = zones
        .iter()
        .enumerate()
        .filter_map(|(i, z)| {
            let why = if stored.contains(&z.id) {
                "is already stored; delete it first to replace it"
            } else if taken.contains(&z.id) {
                "is already in force (the region map or a restriction)"
            } else {
                return None;
            };
            Some(Problem {
                feature: format!("zone {i} `{}`", z.id),
                reason: format!("id `{}` {why}", z.id),
            })
        })
        .collect();
    if !problems.is_empty() {
        return Err(ZoneImportError::Invalid(ImportError { problems }));
    }
    store
        .insert_zones(&stored_form(&zones), Utc::now().timestamp_millis())
        .await?;
    Ok(zones)
}

impl Dispatcher {
    /// The imported zones in force.
    pub fn imported_zones(&self) -> Vec<Zone> {
        self.imported_zones.lock().expect("imported zones").clone()
    }

    /// Imports a zone file: stored and in force for every check from now
    /// on, or, if anything is wrong, nothing stored and every problem listed.
    pub async fn import_zones(&self, text: &str) -> Result<Vec<String>, ZoneImportError> {
        // One change at a time: the id checks and the store write must see
        // the same set of zones.
        let _change = self.zone_changes.lock().await;
        let imported: Vec<String> = self.imported_zones().into_iter().map(|z| z.id).collect();
        let taken: Vec<String> = self
            .region_now()
            .zones
            .iter()
            .filter(|z| !imported.contains(&z.id))
            .map(|z| z.id.clone())
            .collect();
        let zones = import_into_store(&self.store, text, &taken).await?;
        let ids = zones.iter().map(|z| z.id.clone()).collect();
        self.imported_zones
            .lock()
            .expect("imported zones")
            .extend(zones);
        self.reindex();
        self.wake.notify_one();
        tracing::info!(zones = ?ids, "zones imported");
        Ok(ids)
    }

    /// Deletes an imported zone from the store and from the checks.
    pub async fn delete_zone(&self, id: &str) -> Result<(), ZoneDeleteError> {
        let _change = self.zone_changes.lock().await;
        let known = self
            .imported_zones
            .lock()
            .expect("imported zones")
            .iter()
            .any(|z| z.id == id);
        let stored = self.store.delete_zone(id).await?;
        if !known && !stored {
            if self.config.region.zones.iter().any(|z| z.id == id) {
                return Err(ZoneDeleteError::NotImported(
                    id.into(),
                    "in the region map file",
                ));
            }
            if self.restrictions().iter().any(|z| z.id == id) {
                return Err(ZoneDeleteError::NotImported(
                    id.into(),
                    "a temporary restriction (DELETE /api/v1/restrictions/{id})",
                ));
            }
            return Err(ZoneDeleteError::Unknown(id.into()));
        }
        self.imported_zones
            .lock()
            .expect("imported zones")
            .retain(|z| z.id != id);
        self.reindex();
        self.wake.notify_one();
        tracing::info!(zone = id, "imported zone deleted");
        Ok(())
    }

    /// Zones imported by an earlier run (or by `skyshare zones import`)
    /// come back into force. One that no longer reads is left out, loudly.
    pub(super) async fn load_imported_zones(&self) -> Result<(), StoreError> {
        let rows = self.store.zones().await?;
        let (loaded, unreadable) =
            read_stored(rows.iter().map(|z| (z.id.as_str(), z.geojson.as_str())));
        for (zone, error) in unreadable {
            tracing::error!(zone, %error, "a stored zone no longer reads; it is not in force");
        }
        for z in &loaded {
            if self.config.region.zones.iter().any(|m| m.id == z.id) {
                tracing::warn!(
                    zone = z.id,
                    "an imported zone has a map zone's id; both apply"
                );
            }
        }
        *self.imported_zones.lock().expect("imported zones") = loaded;
        Ok(())
    }
}
