//! Recurring tasks: the series as submitted, and which task each of its
//! occurrences became. An occurrence is recorded and its task inserted in
//! one transaction, keyed by (series, occurrence), so a restart never
//! creates one twice.

use sqlx::Row;

use super::{Store, StoreResult, TaskRow, TASK_COLUMNS};

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS task_series (id TEXT PRIMARY KEY, department_id TEXT NOT NULL REFERENCES departments(id), request TEXT NOT NULL, state TEXT NOT NULL, next_occurrence BIGINT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, reason TEXT)",
    "CREATE INDEX IF NOT EXISTS task_series_by_state ON task_series (state)",
    "CREATE TABLE IF NOT EXISTS series_occurrences (series_id TEXT NOT NULL REFERENCES task_series(id), occurrence BIGINT NOT NULL, task_id TEXT NOT NULL, PRIMARY KEY (series_id, occurrence))",
];

/// Occurrences are still being created.
pub const SERIES_ACTIVE: &str = "active";
/// Every occurrence has been created.
pub const SERIES_FINISHED: &str = "finished";
/// Cancelled by its department: no more occurrences, queued ones cancelled.
pub const SERIES_CANCELLED: &str = "cancelled";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeriesRow {
    pub id: String,
    pub department_id: String,
    /// The request as submitted, recurrence included.
    pub request: serde_json::Value,
    pub state: String,
    /// The next occurrence not yet created (or skipped).
    pub next_occurrence: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub reason: Option<String>,
}

const SERIES_COLUMNS: &str =
    "id, department_id, request, state, next_occurrence, created_at_ms, updated_at_ms, reason";

fn series_from_row(r: &sqlx::any::AnyRow) -> SeriesRow {
    let request: String = r.get(2);
    SeriesRow {
        id: r.get(0),
        department_id: r.get(1),
        request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
        state: r.get(3),
        next_occurrence: r.get(4),
        created_at_ms: r.get(5),
        updated_at_ms: r.get(6),
        reason: r.get(7),
    }
}

impl Store {
    pub async fn insert_series(&self, series: &SeriesRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO task_series ({SERIES_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&series.id)
        .bind(&series.department_id)
        .bind(series.request.to_string())
        .bind(&series.state)
        .bind(series.next_occurrence)
        .bind(series.created_at_ms)
        .bind(series.updated_at_ms)
        .bind(series.reason.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn series(&self, id: &str) -> StoreResult<Option<SeriesRow>> {
        let row = sqlx::query(&format!(
            "SELECT {SERIES_COLUMNS} FROM task_series WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(series_from_row))
    }

    /// Series of one department, or of all when None; oldest first.
    pub async fn all_series(&self, department_id: Option<&str>) -> StoreResult<Vec<SeriesRow>> {
        let rows = match department_id {
            Some(d) => {
                sqlx::query(&format!("SELECT {SERIES_COLUMNS} FROM task_series WHERE department_id = $1 ORDER BY created_at_ms, id"))
                    .bind(d)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {SERIES_COLUMNS} FROM task_series ORDER BY created_at_ms, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.iter().map(series_from_row).collect())
    }

    pub async fn active_series(&self) -> StoreResult<Vec<SeriesRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SERIES_COLUMNS} FROM task_series WHERE state = $1 ORDER BY created_at_ms, id"
        ))
        .bind(SERIES_ACTIVE)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(series_from_row).collect())
    }

    /// Stores occurrence `occurrence` as `task`, unless it exists already
    /// or the series is no longer active; true when it was stored.
    pub async fn add_occurrence(
        &self,
        series_id: &str,
        occurrence: i64,
        task: &TaskRow,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let active = sqlx::query("SELECT state FROM task_series WHERE id = $1")
            .bind(series_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some_and(|r| r.get::<String, _>(0) == SERIES_ACTIVE);
        if !active {
            tx.rollback().await?;
            return Ok(false);
        }
        let linked = sqlx::query("INSERT INTO series_occurrences (series_id, occurrence, task_id) VALUES ($1, $2, $3) ON CONFLICT (series_id, occurrence) DO NOTHING")
            .bind(series_id)
            .bind(occurrence)
            .bind(&task.id)
            .execute(&mut *tx)
            .await?;
        if linked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(&format!("INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            .bind(&task.id)
            .bind(&task.department_id)
            .bind(&task.kind)
            .bind(task.request.to_string())
            .bind(&task.state)
            .bind(task.reason.clone())
            .bind(task.drone_id.clone())
            .bind(task.created_at_ms)
            .bind(task.updated_at_ms)
            .bind(task.progress_seq)
            .bind(task.progress_total)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE task_series SET next_occurrence = $1, updated_at_ms = $2 WHERE id = $3 AND next_occurrence <= $4")
            .bind(occurrence + 1)
            .bind(task.created_at_ms)
            .bind(series_id)
            .bind(occurrence)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves the series on to `next` (occurrences skipped), finished or not.
    pub async fn advance_series(
        &self,
        id: &str,
        next: i64,
        finished: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        let state = if finished {
            SERIES_FINISHED
        } else {
            SERIES_ACTIVE
        };
        sqlx::query("UPDATE task_series SET next_occurrence = $1, state = $2, updated_at_ms = $3 WHERE id = $4 AND state = $5")
            .bind(next)
            .bind(state)
            .bind(now_ms)
            .bind(id)
            .bind(SERIES_ACTIVE)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The tasks of a series' occurrences, by occurrence.
    pub async fn series_tasks(&self, id: &str) -> StoreResult<Vec<(i64, TaskRow)>> {
        let columns = TASK_COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT o.occurrence, {columns} FROM series_occurrences o JOIN tasks t ON t.id = o.task_id WHERE o.series_id = $1 ORDER BY o.occurrence"))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let request: String = r.get(4);
                (
                    r.get::<i64, _>(0),
                    TaskRow {
                        id: r.get(1),
                        department_id: r.get(2),
                        kind: r.get(3),
                        request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
                        state: r.get(5),
                        reason: r.get(6),
                        drone_id: r.get(7),
                        created_at_ms: r.get(8),
                        updated_at_ms: r.get(9),
                        progress_seq: r.get(10),
                        progress_total: r.get(11),
                    },
                )
            })
            .collect())
    }

    /// The series a task is an occurrence of.
    pub async fn series_of_task(&self, task_id: &str) -> StoreResult<Option<(String, i64)>> {
        let row =
            sqlx::query("SELECT series_id, occurrence FROM series_occurrences WHERE task_id = $1")
                .bind(task_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Cancels a series of this department: no more occurrences, and every
    /// queued one cancelled. Returns the cancelled tasks' ids, or None when
    /// the series is not the department's or was already cancelled.
    pub async fn cancel_series(
        &self,
        id: &str,
        department_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Vec<String>>> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE task_series SET state = $1, reason = $2, updated_at_ms = $3 WHERE id = $4 AND department_id = $5 AND state <> $1")
            .bind(SERIES_CANCELLED)
            .bind(reason)
            .bind(now_ms)
            .bind(id)
            .bind(department_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let queued: Vec<String> = sqlx::query("SELECT t.id FROM series_occurrences o JOIN tasks t ON t.id = o.task_id WHERE o.series_id = $1 AND t.state = 'queued' ORDER BY o.occurrence")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for task in &queued {
            sqlx::query("UPDATE tasks SET state = 'cancelled', reason = $1, updated_at_ms = $2 WHERE id = $3 AND state = 'queued'")
                .bind(reason)
                .bind(now_ms)
                .bind(task)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(queued))
    }
}
