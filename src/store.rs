//! The store: departments, API tokens, tasks, images and the ids of events
//! already applied. One SQL dialect subset that SQLite and PostgreSQL both
//! accept, through sqlx's `Any` driver, so both run the same code and tests.

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskRow {
    pub id: String,
    pub department_id: String,
    pub kind: String,
    /// The request as submitted (JSON), kept verbatim for replanning.
    pub request: serde_json::Value,
    pub state: String,
    pub reason: Option<String>,
    pub drone_id: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub progress_seq: Option<i64>,
    pub progress_total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageRow {
    pub id: String,
    pub task_id: String,
    pub department_id: String,
    pub drone_id: String,
    pub image_index: i64,
    pub captured_at_ms: i64,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
    pub alt_rel_m: f64,
    pub file_url: Option<String>,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS departments (id TEXT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS api_tokens (token_sha256 TEXT PRIMARY KEY, department_id TEXT NOT NULL REFERENCES departments(id), created_at_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, department_id TEXT NOT NULL REFERENCES departments(id), kind TEXT NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, drone_id TEXT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, progress_seq BIGINT, progress_total BIGINT)",
    "CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, created_at_ms)",
    "CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(id), department_id TEXT NOT NULL, drone_id TEXT NOT NULL, image_index BIGINT NOT NULL, captured_at_ms BIGINT NOT NULL, lat_deg DOUBLE PRECISION NOT NULL, lon_deg DOUBLE PRECISION NOT NULL, alt_msl_m DOUBLE PRECISION NOT NULL, alt_rel_m DOUBLE PRECISION NOT NULL, file_url TEXT)",
    "CREATE INDEX IF NOT EXISTS images_by_task ON images (task_id)",
    "CREATE TABLE IF NOT EXISTS applied_events (id TEXT PRIMARY KEY, drone_id TEXT NOT NULL, ts_ms BIGINT NOT NULL)",
];

const TASK_COLUMNS: &str = "id, department_id, kind, request, state, reason, drone_id, created_at_ms, updated_at_ms, progress_seq, progress_total";

impl Store {
    /// `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        install_default_drivers();
        // SQLite serialises writers anyway; one connection avoids "database
        // is locked" between our own tasks.
        let max = if url.starts_with("sqlite") { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(url)
            .await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Store { pool })
    }

    pub async fn upsert_department(&self, id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO departments (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name")
            .bind(id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_token(
        &self,
        token_sha256: &str,
        department_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_tokens (token_sha256, department_id, created_at_ms) VALUES ($1, $2, $3)")
            .bind(token_sha256)
            .bind(department_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn department_for_token(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT department_id FROM api_tokens WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    pub async fn insert_task(&self, task: &TaskRow) -> StoreResult<()> {
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves a task to a new state; `drone_id` is kept when None is given.
    pub async fn set_task_state(
        &self,
        id: &str,
        state: &str,
        reason: Option<&str>,
        drone_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET state = $1, reason = $2, drone_id = COALESCE($3, drone_id), updated_at_ms = $4 WHERE id = $5")
            .bind(state)
            .bind(reason)
            .bind(drone_id)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_task_progress(
        &self,
        id: &str,
        seq: i64,
        total: i64,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET progress_seq = $1, progress_total = $2, updated_at_ms = $3 WHERE id = $4")
            .bind(seq)
            .bind(total)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn task(&self, id: &str) -> StoreResult<Option<TaskRow>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| task_from_row(&r)))
    }

    pub async fn tasks_in_state(&self, state: &str) -> StoreResult<Vec<TaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE state = $1 ORDER BY created_at_ms, id"
        ))
        .bind(state)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    pub async fn tasks_of_department(&self, department_id: &str) -> StoreResult<Vec<TaskRow>> {
        let rows = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE department_id = $1 ORDER BY created_at_ms DESC, id"))
            .bind(department_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    /// Records an event id; false when it was already applied (a QoS 1
    /// redelivery or a bridge resending its buffer).
    pub async fn mark_event_applied(
        &self,
        id: &str,
        drone_id: &str,
        ts_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query("INSERT INTO applied_events (id, drone_id, ts_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
            .bind(id)
            .bind(drone_id)
            .bind(ts_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_image(&self, image: &ImageRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO images (id, task_id, department_id, drone_id, image_index, captured_at_ms, lat_deg, lon_deg, alt_msl_m, alt_rel_m, file_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING")
            .bind(&image.id)
            .bind(&image.task_id)
            .bind(&image.department_id)
            .bind(&image.drone_id)
            .bind(image.image_index)
            .bind(image.captured_at_ms)
            .bind(image.lat_deg)
            .bind(image.lon_deg)
            .bind(image.alt_msl_m)
            .bind(image.alt_rel_m)
            .bind(image.file_url.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn images_of_task(
        &self,
        task_id: &str,
        department_id: &str,
    ) -> StoreResult<Vec<ImageRow>> {
        let rows = sqlx::query("SELECT id, task_id, department_id, drone_id, image_index, captured_at_ms, lat_deg, lon_deg, alt_msl_m, alt_rel_m, file_url FROM images WHERE task_id = $1 AND department_id = $2 ORDER BY image_index, id")
            .bind(task_id)
            .bind(department_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| ImageRow {
                id: r.get(0),
                task_id: r.get(1),
                department_id: r.get(2),
                drone_id: r.get(3),
                image_index: r.get(4),
                captured_at_ms: r.get(5),
                lat_deg: r.get(6),
                lon_deg: r.get(7),
                alt_msl_m: r.get(8),
                alt_rel_m: r.get(9),
                file_url: r.get(10),
            })
            .collect())
    }
}

fn task_from_row(r: &sqlx::any::AnyRow) -> TaskRow {
    let request: String = r.get(3);
    TaskRow {
        id: r.get(0),
        department_id: r.get(1),
        kind: r.get(2),
        request: serde_json::from_str(&request).unwrap_or(serde_json::Value::Null),
        state: r.get(4),
        reason: r.get(5),
        drone_id: r.get(6),
        created_at_ms: r.get(7),
        updated_at_ms: r.get(8),
        progress_seq: r.get(9),
        progress_total: r.get(10),
    }
}
