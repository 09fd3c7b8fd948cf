//! Drones' service state (in service, in maintenance, lost), as pilots and
//! administrators set it or the dispatcher finds it. A drone with no row is
//! in service.

use sqlx::Row;

use super::{Store, StoreResult};

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS drone_service (drone_id TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT, changed_at_ms BIGINT NOT NULL, changed_by TEXT NOT NULL)",
];

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DroneServiceRow {
    pub drone_id: String,
    /// `in_service`, `maintenance` or `lost`.
    pub state: String,
    pub reason: Option<String>,
    pub changed_at_ms: i64,
    /// The user who set it, or `dispatcher` when it was detected.
    pub changed_by: String,
}

impl Store {
    pub async fn set_drone_service(&self, row: &DroneServiceRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO drone_service (drone_id, state, reason, changed_at_ms, changed_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (drone_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, changed_at_ms = excluded.changed_at_ms, changed_by = excluded.changed_by")
            .bind(&row.drone_id)
            .bind(&row.state)
            .bind(row.reason.clone())
            .bind(row.changed_at_ms)
            .bind(&row.changed_by)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every drone whose service state was ever set, by id.
    pub async fn drone_services(&self) -> StoreResult<Vec<DroneServiceRow>> {
        let rows = sqlx::query("SELECT drone_id, state, reason, changed_at_ms, changed_by FROM drone_service ORDER BY drone_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| DroneServiceRow {
                drone_id: r.get(0),
                state: r.get(1),
                reason: r.get(2),
                changed_at_ms: r.get(3),
                changed_by: r.get(4),
            })
            .collect())
    }
}
