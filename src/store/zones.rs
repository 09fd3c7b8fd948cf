//! Imported zones: each zone kept as a GeoJSON FeatureCollection of one
//! feature (the airspace importer reads it back with its band, time and
//! kind), so the stored form is the exported form. A file's zones are
//! written in one transaction: all of them or none.

use sqlx::Row;

use super::{Store, StoreResult};

/// The table, in the SQL both SQLite and PostgreSQL accept.
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS zones (id TEXT PRIMARY KEY, zone_geojson TEXT NOT NULL, imported_at_ms BIGINT NOT NULL)";

/// One stored zone: its id and its GeoJSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredZone {
    pub id: String,
    pub geojson: String,
}

impl Store {
    /// Stores every zone of one import in one transaction; if any insert
    /// fails (e.g. an id already stored), none is kept.
    pub async fn insert_zones(&self, zones: &[StoredZone], imported_at_ms: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for zone in zones {
            sqlx::query("INSERT INTO zones (id, zone_geojson, imported_at_ms) VALUES ($1, $2, $3)")
                .bind(&zone.id)
                .bind(&zone.geojson)
                .bind(imported_at_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every stored zone, in import order.
    pub async fn zones(&self) -> StoreResult<Vec<StoredZone>> {
        let rows = sqlx::query("SELECT id, zone_geojson FROM zones ORDER BY imported_at_ms, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredZone {
                id: r.get(0),
                geojson: r.get(1),
            })
            .collect())
    }

    /// Which of `ids` are already stored.
    pub async fn stored_zone_ids(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let mut found = Vec::new();
        for id in ids {
            let row = sqlx::query("SELECT id FROM zones WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(r) = row {
                found.push(r.get(0));
            }
        }
        Ok(found)
    }

    /// Whether there was such a zone to delete.
    pub async fn delete_zone(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
