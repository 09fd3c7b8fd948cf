//! The store: departments, API tokens, tasks, images and the ids of events
//! already applied. One SQL dialect subset that SQLite and PostgreSQL both
//! accept, through sqlx's `Any` driver, so both run the same code and tests.

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Row};

mod alerts;
mod fleet_service;
mod flights;
mod imagery;
mod series;
mod shares;
mod takeovers;
mod zones;
pub use fleet_service::DroneServiceRow;
pub use flights::*;
pub use series::*;
pub use zones::StoredZone;

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

/// A person or system that calls the API, with one role.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    /// `department`, `pilot` or `admin`.
    pub role: String,
    /// Set for (and only for) department users.
    pub department_id: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    /// Tasks not yet finished (queued, assigned, in flight) the department
    /// may have at once; None is unlimited.
    pub max_open_tasks: Option<i64>,
}

/// A line to append to the audit log (its sequence number comes from the store).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub result: String,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub result: String,
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
    "CREATE INDEX IF NOT EXISTS tasks_by_update ON tasks (updated_at_ms)",
    "CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(id), department_id TEXT NOT NULL, drone_id TEXT NOT NULL, image_index BIGINT NOT NULL, captured_at_ms BIGINT NOT NULL, lat_deg DOUBLE PRECISION NOT NULL, lon_deg DOUBLE PRECISION NOT NULL, alt_msl_m DOUBLE PRECISION NOT NULL, alt_rel_m DOUBLE PRECISION NOT NULL, file_url TEXT)",
    "CREATE INDEX IF NOT EXISTS images_by_task ON images (task_id)",
    "CREATE TABLE IF NOT EXISTS applied_events (id TEXT PRIMARY KEY, drone_id TEXT NOT NULL, ts_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, department_id TEXT REFERENCES departments(id), created_at_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS user_tokens (token_sha256 TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), created_at_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS user_tokens_by_user ON user_tokens (user_id)",
    // One row per image with its ground footprint, denormalised so a
    // catalogue search reads one table; the bbox columns carry B-tree
    // indexes in both stores.
    "CREATE TABLE IF NOT EXISTS image_footprints (image_id TEXT PRIMARY KEY REFERENCES images(id), department_id TEXT NOT NULL, task_id TEXT NOT NULL, drone_id TEXT NOT NULL, sensor TEXT NOT NULL, captured_at_ms BIGINT NOT NULL, lat_deg DOUBLE PRECISION NOT NULL, lon_deg DOUBLE PRECISION NOT NULL, alt_msl_m DOUBLE PRECISION NOT NULL, alt_rel_m DOUBLE PRECISION NOT NULL, file_url TEXT, gsd_m DOUBLE PRECISION, geometry TEXT NOT NULL, min_lon DOUBLE PRECISION NOT NULL, min_lat DOUBLE PRECISION NOT NULL, max_lon DOUBLE PRECISION NOT NULL, max_lat DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS image_footprints_by_lon ON image_footprints (min_lon, max_lon)",
    "CREATE INDEX IF NOT EXISTS image_footprints_by_lat ON image_footprints (min_lat, max_lat)",
    "CREATE INDEX IF NOT EXISTS image_footprints_by_time ON image_footprints (department_id, captured_at_ms)",
    "CREATE TABLE IF NOT EXISTS department_quotas (department_id TEXT PRIMARY KEY REFERENCES departments(id), max_open_tasks BIGINT NOT NULL)",
    // Temporary restrictions created at run time, each as a GeoJSON
    // FeatureCollection of one zone (the airspace importer reads it back).
    "CREATE TABLE IF NOT EXISTS restrictions (id TEXT PRIMARY KEY, zone_geojson TEXT NOT NULL, created_at_ms BIGINT NOT NULL)",
];

/// The audit log's sequence column is the one place the dialects differ.
const AUDIT_SQLITE: &str = "CREATE TABLE IF NOT EXISTS audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, result TEXT NOT NULL)";
const AUDIT_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS audit_log (seq BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, result TEXT NOT NULL)";

/// States in which a task still counts against its department's quota.
pub const OPEN_STATES: [&str; 3] = ["queued", "assigned", "in_flight"];

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
        for statement in SCHEMA
            .iter()
            .chain(flights::SCHEMA)
            .chain(fleet_service::SCHEMA)
            .chain(shares::SCHEMA)
            .chain(series::SCHEMA)
        {
            sqlx::query(statement).execute(&pool).await?;
        }
        let audit = if url.starts_with("sqlite") {
            AUDIT_SQLITE
        } else {
            AUDIT_POSTGRES
        };
        sqlx::query(audit).execute(&pool).await?;
        sqlx::query(zones::SCHEMA).execute(&pool).await?;
        let store = Store { pool };
        store.add_flight_route_column().await?;
        store.create_alert_schema().await?;
        store.create_takeover_schema().await?;
        store.create_imagery_schema().await?;
        store.backfill_footprints().await?;
        Ok(store)
    }

    pub async fn insert_restriction(
        &self,
        id: &str,
        zone_geojson: &str,
        created_at_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO restrictions (id, zone_geojson, created_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(zone_geojson)
        .bind(created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every stored restriction's GeoJSON, oldest first.
    pub async fn restrictions(&self) -> StoreResult<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT id, zone_geojson FROM restrictions ORDER BY created_at_ms, id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Whether there was such a restriction to delete.
    pub async fn delete_restriction(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM restrictions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether the database answers a trivial query (for /readyz).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
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
    /// A cancelled task stays cancelled: the dispatcher's round may still
    /// hold it from a read made just before the cancel, and must not bring
    /// it back.
    pub async fn set_task_state(
        &self,
        id: &str,
        state: &str,
        reason: Option<&str>,
        drone_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET state = $1, reason = $2, drone_id = COALESCE($3, drone_id), updated_at_ms = $4 WHERE id = $5 AND state <> 'cancelled'")
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
        self.insert_footprint(image).await
    }

    pub async fn images_of_task(
        &self,
        task_id: &str,
        department_id: &str,
    ) -> StoreResult<Vec<ImageRow>> {
        let rows = sqlx::query(&format!("SELECT {IMAGE_COLUMNS} FROM images WHERE task_id = $1 AND department_id = $2 ORDER BY image_index, id"))
            .bind(task_id)
            .bind(department_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(image_from_row).collect())
    }
}

const USER_COLUMNS: &str = "id, name, role, department_id, created_at_ms";

fn user_from_row(r: &sqlx::any::AnyRow) -> UserRow {
    UserRow {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        department_id: r.get(3),
        created_at_ms: r.get(4),
    }
}

fn image_from_row(r: &sqlx::any::AnyRow) -> ImageRow {
    ImageRow {
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
    }
}

const IMAGE_COLUMNS: &str = "id, task_id, department_id, drone_id, image_index, captured_at_ms, lat_deg, lon_deg, alt_msl_m, alt_rel_m, file_url";

/// An image as the catalogue serves it: where, when, and what it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueRow {
    pub image_id: String,
    pub department_id: String,
    pub task_id: String,
    pub drone_id: String,
    pub sensor: String,
    pub captured_at_ms: i64,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
    pub alt_rel_m: f64,
    pub file_url: Option<String>,
    pub gsd_m: Option<f64>,
    /// GeoJSON geometry: the footprint polygon, or the camera's point when
    /// no footprint could be drawn.
    pub geometry: serde_json::Value,
    pub bbox: [f64; 4],
}

/// What a catalogue search asks the store for; the exact geometry test of
/// `intersects` is left to the caller, this is the index-backed part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogueQuery {
    /// None: every department.
    pub departments: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    /// [min lon, min lat, max lon, max lat]: footprints whose bbox meets it.
    pub bbox: Option<[f64; 4]>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

enum Param {
    Text(String),
    Float(f64),
    Int(i64),
}

const CATALOGUE_COLUMNS: &str = "image_id, department_id, task_id, drone_id, sensor, captured_at_ms, lat_deg, lon_deg, alt_msl_m, alt_rel_m, file_url, gsd_m, geometry, min_lon, min_lat, max_lon, max_lat";

/// The catalogue of images and their footprints.
impl Store {
    async fn insert_footprint(&self, image: &ImageRow) -> StoreResult<()> {
        let request = sqlx::query("SELECT request FROM tasks WHERE id = $1")
            .bind(&image.task_id)
            .fetch_optional(&self.pool)
            .await?;
        let sensor = request
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.get::<String, _>(0)).ok())
            .and_then(|v| v["sensor"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "visible".to_owned());
        let camera = crate::planning::camera_for(&sensor);
        // Without a known attitude the camera is taken as pointing
        // straight down with the image's top to the north.
        let (lat, lon, h) = (image.lat_deg, image.lon_deg, image.alt_rel_m);
        let fp = match self.image_attitude(&image.id).await? {
            Some(a) => crate::footprint::footprint_oriented(&camera, lat, lon, h, &a.camera),
            None => crate::footprint::footprint(&camera, lat, lon, h, -90.0, 0.0),
        };
        let (geometry, bbox, gsd) = match fp {
            Some(fp) => (
                serde_json::json!({"type": "Polygon", "coordinates": [fp.ring]}),
                fp.bbox,
                Some(fp.gsd_m),
            ),
            None => (
                serde_json::json!({"type": "Point", "coordinates": [image.lon_deg, image.lat_deg]}),
                [image.lon_deg, image.lat_deg, image.lon_deg, image.lat_deg],
                None,
            ),
        };
        sqlx::query(&format!("INSERT INTO image_footprints ({CATALOGUE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (image_id) DO NOTHING"))
            .bind(&image.id)
            .bind(&image.department_id)
            .bind(&image.task_id)
            .bind(&image.drone_id)
            .bind(sensor)
            .bind(image.captured_at_ms)
            .bind(image.lat_deg)
            .bind(image.lon_deg)
            .bind(image.alt_msl_m)
            .bind(image.alt_rel_m)
            .bind(image.file_url.clone())
            .bind(gsd)
            .bind(geometry.to_string())
            .bind(bbox[0])
            .bind(bbox[1])
            .bind(bbox[2])
            .bind(bbox[3])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Images stored before the catalogue existed get their footprints.
    async fn backfill_footprints(&self) -> StoreResult<()> {
        let rows = sqlx::query(&format!("SELECT {} FROM images i LEFT JOIN image_footprints f ON f.image_id = i.id WHERE f.image_id IS NULL", IMAGE_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ")))
            .fetch_all(&self.pool)
            .await?;
        for image in rows.iter().map(image_from_row) {
            self.insert_footprint(&image).await?;
        }
        Ok(())
    }

    /// Catalogue rows matching `query`, newest first.
    pub async fn catalogue(&self, query: &CatalogueQuery) -> StoreResult<Vec<CatalogueRow>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        // Each value is bound in turn; the SQL names it `$n`.
        let bind_next = |p: Param, params: &mut Vec<Param>| {
            params.push(p);
            format!("${}", params.len())
        };
        for (column, values) in [
            ("department_id", &query.departments),
            ("image_id", &query.ids),
        ] {
            if let Some(values) = values {
                if values.is_empty() {
                    return Ok(Vec::new());
                }
                let list: Vec<String> = values
                    .iter()
                    .map(|v| bind_next(Param::Text(v.clone()), &mut params))
                    .collect();
                clauses.push(format!("{column} IN ({})", list.join(", ")));
            }
        }
        if let Some([w, s, e, n]) = query.bbox {
            let (w, s, e, n) = (
                bind_next(Param::Float(w), &mut params),
                bind_next(Param::Float(s), &mut params),
                bind_next(Param::Float(e), &mut params),
                bind_next(Param::Float(n), &mut params),
            );
            clauses.push(format!(
                "min_lon <= {e} AND max_lon >= {w} AND min_lat <= {n} AND max_lat >= {s}"
            ));
        }
        if let Some(from) = query.from_ms {
            let p = bind_next(Param::Int(from), &mut params);
            clauses.push(format!("captured_at_ms >= {p}"));
        }
        if let Some(to) = query.to_ms {
            let p = bind_next(Param::Int(to), &mut params);
            clauses.push(format!("captured_at_ms <= {p}"));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT {CATALOGUE_COLUMNS} FROM image_footprints{filter} ORDER BY captured_at_ms DESC, image_id");
        let mut q = sqlx::query(&sql);
        for p in params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Float(f) => q.bind(f),
                Param::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let geometry: String = r.get(12);
                CatalogueRow {
                    image_id: r.get(0),
                    department_id: r.get(1),
                    task_id: r.get(2),
                    drone_id: r.get(3),
                    sensor: r.get(4),
                    captured_at_ms: r.get(5),
                    lat_deg: r.get(6),
                    lon_deg: r.get(7),
                    alt_msl_m: r.get(8),
                    alt_rel_m: r.get(9),
                    file_url: r.get(10),
                    gsd_m: r.get(11),
                    geometry: serde_json::from_str(&geometry).unwrap_or(serde_json::Value::Null),
                    bbox: [r.get(13), r.get(14), r.get(15), r.get(16)],
                }
            })
            .collect())
    }
}

/// Users, tokens, quotas and the audit log: what the API's roles rest on.
impl Store {
    /// Creates a user or updates its name, role and department.
    pub async fn upsert_user(&self, user: &UserRow) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, department_id = excluded.department_id"))
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.role)
            .bind(user.department_id.clone())
            .bind(user.created_at_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }

    pub async fn users(&self) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    pub async fn add_user_token(
        &self,
        token_sha256: &str,
        user_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_tokens (token_sha256, user_id, created_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revokes every token of a user; returns how many there were.
    pub async fn revoke_user_tokens(&self, user_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM user_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn user_for_token(&self, token_sha256: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT u.id, u.name, u.role, u.department_id, u.created_at_ms FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }

    pub async fn set_quota(
        &self,
        department_id: &str,
        max_open_tasks: Option<i64>,
    ) -> StoreResult<()> {
        match max_open_tasks {
            Some(max) => {
                sqlx::query("INSERT INTO department_quotas (department_id, max_open_tasks) VALUES ($1, $2) ON CONFLICT (department_id) DO UPDATE SET max_open_tasks = excluded.max_open_tasks")
                    .bind(department_id)
                    .bind(max)
                    .execute(&self.pool)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM department_quotas WHERE department_id = $1")
                    .bind(department_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn departments(&self) -> StoreResult<Vec<DepartmentRow>> {
        let rows = sqlx::query("SELECT d.id, d.name, q.max_open_tasks FROM departments d LEFT JOIN department_quotas q ON q.department_id = d.id ORDER BY d.id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| DepartmentRow {
                id: r.get(0),
                name: r.get(1),
                max_open_tasks: r.get(2),
            })
            .collect())
    }

    pub async fn department(&self, id: &str) -> StoreResult<Option<DepartmentRow>> {
        Ok(self.departments().await?.into_iter().find(|d| d.id == id))
    }

    pub async fn count_open_tasks(&self, department_id: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM tasks WHERE department_id = $1 AND state IN ($2, $3, $4)",
        )
        .bind(department_id)
        .bind(OPEN_STATES[0])
        .bind(OPEN_STATES[1])
        .bind(OPEN_STATES[2])
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// Cancels a task of this department only while it is still queued;
    /// false when it is not (any more) queued or not the department's.
    pub async fn cancel_queued_task(
        &self,
        id: &str,
        department_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE tasks SET state = 'cancelled', reason = $1, updated_at_ms = $2 WHERE id = $3 AND department_id = $4 AND state = 'queued'")
            .bind(reason)
            .bind(now_ms)
            .bind(id)
            .bind(department_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Tasks changed at or after `since_ms` (for the live stream).
    pub async fn tasks_updated_since(&self, since_ms: i64) -> StoreResult<Vec<TaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE updated_at_ms >= $1 ORDER BY updated_at_ms, id"
        ))
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    /// How many tasks are in each state.
    pub async fn task_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM tasks GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn all_tasks(&self) -> StoreResult<Vec<TaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks ORDER BY created_at_ms DESC, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    /// The images of a task, whatever its department (for pilots and admins).
    pub async fn images_of_any_task(&self, task_id: &str) -> StoreResult<Vec<ImageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {IMAGE_COLUMNS} FROM images WHERE task_id = $1 ORDER BY image_index, id"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(image_from_row).collect())
    }

    /// Appends one audit line and returns its sequence number. There is no
    /// method to change or remove a line: the log is append-only.
    pub async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        let row = sqlx::query("INSERT INTO audit_log (at_ms, actor, role, action, target, detail, result) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq")
            .bind(entry.at_ms)
            .bind(&entry.actor)
            .bind(&entry.role)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(entry.detail.to_string())
            .bind(&entry.result)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// Audit lines after `after_seq`, oldest first, at most `limit`.
    pub async fn audit(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query("SELECT seq, at_ms, actor, role, action, target, detail, result FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let detail: String = r.get(6);
                AuditRow {
                    seq: r.get(0),
                    at_ms: r.get(1),
                    actor: r.get(2),
                    role: r.get(3),
                    action: r.get(4),
                    target: r.get(5),
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    result: r.get(7),
                }
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
