//! Each department's share of the fleet's flight time (a weight; shares
//! are normalised over the departments with work waiting). A department
//! with no row has a share of 1.

use std::collections::HashMap;

use sqlx::Row;

use super::{Store, StoreResult};

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS department_shares (department_id TEXT PRIMARY KEY REFERENCES departments(id), share DOUBLE PRECISION NOT NULL)",
];

impl Store {
    /// Sets a department's share; None goes back to the default of 1.
    pub async fn set_flight_share(
        &self,
        department_id: &str,
        share: Option<f64>,
    ) -> StoreResult<()> {
        match share {
            Some(share) => {
                sqlx::query("INSERT INTO department_shares (department_id, share) VALUES ($1, $2) ON CONFLICT (department_id) DO UPDATE SET share = excluded.share")
                    .bind(department_id)
                    .bind(share)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM department_shares WHERE department_id = $1")
                    .bind(department_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// The shares that were set, by department.
    pub async fn flight_shares(&self) -> StoreResult<HashMap<String, f64>> {
        let rows = sqlx::query("SELECT department_id, share FROM department_shares")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
