//! Alerts in the store: one row per alert, rewritten as it is cleared or
//! acknowledged, so open alerts and their acknowledgements survive a
//! restart and cleared ones stay readable.

use chrono::{DateTime, TimeZone, Utc};
use sqlx::Row;

use super::{Store, StoreResult};
use crate::alerts::{Alert, AlertKind};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, drone_id TEXT NOT NULL, kind TEXT NOT NULL, alert_key TEXT NOT NULL, message TEXT NOT NULL, raised_at_ms BIGINT NOT NULL, cleared_at_ms BIGINT, acknowledged_by TEXT, acknowledged_at_ms BIGINT)",
    "CREATE INDEX IF NOT EXISTS alerts_by_raise ON alerts (raised_at_ms)",
    "CREATE INDEX IF NOT EXISTS alerts_open ON alerts (cleared_at_ms)",
];

const COLUMNS: &str = "id, drone_id, kind, alert_key, message, raised_at_ms, cleared_at_ms, acknowledged_by, acknowledged_at_ms";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn alert_from_row(r: &sqlx::any::AnyRow) -> Option<Alert> {
    let kind: String = r.get(2);
    let Some(kind) = AlertKind::parse(&kind) else {
        tracing::warn!(kind, "stored alert of an unknown kind skipped");
        return None;
    };
    Some(Alert {
        id: r.get(0),
        drone_id: r.get(1),
        kind,
        key: r.get(3),
        message: r.get(4),
        raised_at: time(r.get(5)),
        cleared_at: r.get::<Option<i64>, _>(6).map(time),
        acknowledged_by: r.get(7),
        acknowledged_at: r.get::<Option<i64>, _>(8).map(time),
    })
}

impl Store {
    pub(super) async fn create_alert_schema(&self) -> StoreResult<()> {
        for statement in SCHEMA {
            sqlx::query(statement).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Writes an alert as it stands now (new, cleared or acknowledged). A
    /// clearance or acknowledgement already stored is never undone.
    pub async fn save_alert(&self, alert: &Alert) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO alerts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET cleared_at_ms = COALESCE(alerts.cleared_at_ms, excluded.cleared_at_ms), acknowledged_by = COALESCE(alerts.acknowledged_by, excluded.acknowledged_by), acknowledged_at_ms = COALESCE(alerts.acknowledged_at_ms, excluded.acknowledged_at_ms)"))
            .bind(&alert.id)
            .bind(&alert.drone_id)
            .bind(alert.kind.as_str())
            .bind(&alert.key)
            .bind(&alert.message)
            .bind(ms(alert.raised_at))
            .bind(alert.cleared_at.map(ms))
            .bind(alert.acknowledged_by.clone())
            .bind(alert.acknowledged_at.map(ms))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn alert(&self, id: &str) -> StoreResult<Option<Alert>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().and_then(alert_from_row))
    }

    /// Alerts newest first: only open ones, or every one (at most `limit`).
    pub async fn alerts(&self, open_only: bool, limit: i64) -> StoreResult<Vec<Alert>> {
        let filter = if open_only {
            " WHERE cleared_at_ms IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts{filter} ORDER BY raised_at_ms DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(alert_from_row).collect())
    }
}
