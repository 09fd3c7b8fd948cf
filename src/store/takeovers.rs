//! Drones a pilot has taken over, so a restarted dispatcher keeps its hands
//! off them until they are released.

use sqlx::Row;

use super::{Store, StoreResult};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS drone_takeovers (drone_id TEXT PRIMARY KEY, pilot TEXT NOT NULL, since_ms BIGINT NOT NULL)";

impl Store {
    pub(super) async fn create_takeover_schema(&self) -> StoreResult<()> {
        sqlx::query(SCHEMA).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn save_takeover(
        &self,
        drone_id: &str,
        pilot: &str,
        since_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO drone_takeovers (drone_id, pilot, since_ms) VALUES ($1, $2, $3) ON CONFLICT (drone_id) DO UPDATE SET pilot = excluded.pilot, since_ms = excluded.since_ms")
            .bind(drone_id)
            .bind(pilot)
            .bind(since_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_takeover(&self, drone_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM drone_takeovers WHERE drone_id = $1")
            .bind(drone_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// (drone, pilot, since ms) of every drone held by a pilot.
    pub async fn takeovers(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let rows =
            sqlx::query("SELECT drone_id, pilot, since_ms FROM drone_takeovers ORDER BY drone_id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
