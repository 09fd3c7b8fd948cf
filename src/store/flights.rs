//! Flights (sorties) and their assignments: which drone flies which tasks,
//! which mission items are whose, how far it got, and when it flew. What a
//! restarted dispatcher needs to resume a sortie exactly, and what the
//! weekly accounting of flight time per department reads.

use sqlx::Row;

use super::{Store, StoreResult};

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS flights (id TEXT PRIMARY KEY, drone_id TEXT NOT NULL, state TEXT NOT NULL, assigned_at_ms BIGINT NOT NULL, started_at_ms BIGINT, ended_at_ms BIGINT, last_reached BIGINT, mission_completed BIGINT NOT NULL, recalled_for TEXT)",
    "CREATE INDEX IF NOT EXISTS flights_by_state ON flights (state, drone_id)",
    "CREATE INDEX IF NOT EXISTS flights_by_end ON flights (ended_at_ms)",
    // One row per task of a sortie, in flying order (`position`).
    "CREATE TABLE IF NOT EXISTS flight_tasks (flight_id TEXT NOT NULL REFERENCES flights(id), position BIGINT NOT NULL, task_id TEXT NOT NULL, department_id TEXT NOT NULL, first_item BIGINT, last_item BIGINT, leg BIGINT, legs BIGINT, finished BIGINT NOT NULL, PRIMARY KEY (flight_id, position))",
    "CREATE INDEX IF NOT EXISTS flight_tasks_by_task ON flight_tasks (task_id)",
];

/// Mission sent, not yet started.
pub const FLIGHT_UPLOADING: &str = "uploading";
/// Started: the drone is out on it.
pub const FLIGHT_FLYING: &str = "flying";
/// Ended on the ground, whatever became of its tasks.
pub const FLIGHT_LANDED: &str = "landed";
/// Never flown: the mission was refused or unanswered, or a restart caught
/// it before it started.
pub const FLIGHT_ABORTED: &str = "aborted";
/// Its drone was declared lost; its unfinished tasks went back to the queue.
pub const FLIGHT_LOST: &str = "lost";

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlightRow {
    pub id: String,
    pub drone_id: String,
    pub state: String,
    pub assigned_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub last_reached: Option<i64>,
    pub mission_completed: bool,
    /// The emergency task the drone was recalled for, if any.
    pub recalled_for: Option<String>,
    /// The planned route, [lon, lat] per vertex; empty when not known
    /// (flights stored before routes were kept).
    pub route: Vec<[f64; 2]>,
    pub tasks: Vec<FlightTaskRow>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlightTaskRow {
    pub task_id: String,
    pub department_id: String,
    /// First and last mission item of this task.
    pub items: Option<(i64, i64)>,
    /// Survey leg flown, of how many.
    pub leg: Option<(i64, i64)>,
    pub finished: bool,
}

const FLIGHT_COLUMNS: &str = "id, drone_id, state, assigned_at_ms, started_at_ms, ended_at_ms, last_reached, mission_completed, recalled_for, route";

/// A route as the GeoJSON LineString text the `route` column holds (NULL
/// when there is none).
fn route_text(route: &[[f64; 2]]) -> Option<String> {
    (!route.is_empty())
        .then(|| serde_json::json!({"type": "LineString", "coordinates": route}).to_string())
}

/// The route back from its column. A value that does not read as a
/// LineString is logged and treated as unknown: the flight itself is still
/// followed.
fn route_from_text(flight_id: &str, text: Option<String>) -> Vec<[f64; 2]> {
    #[derive(serde::Deserialize)]
    struct LineString {
        #[serde(rename = "type")]
        kind: String,
        coordinates: Vec<[f64; 2]>,
    }
    let Some(text) = text else {
        return Vec::new();
    };
    match serde_json::from_str::<LineString>(&text) {
        Ok(line) if line.kind == "LineString" => line.coordinates,
        Ok(line) => {
            tracing::warn!(
                flight = flight_id,
                kind = line.kind,
                "stored route is not a LineString; ignored"
            );
            Vec::new()
        }
        Err(error) => {
            tracing::warn!(flight = flight_id, %error, "stored route does not parse; ignored");
            Vec::new()
        }
    }
}

impl Store {
    /// Adds the `route` column to a `flights` table created before routes
    /// were kept. Neither store has a portable `ADD COLUMN IF NOT EXISTS`
    /// (SQLite lacks it), so the column is probed first.
    pub(super) async fn add_flight_route_column(&self) -> StoreResult<()> {
        let present = sqlx::query("SELECT route FROM flights WHERE 1 = 0")
            .fetch_all(&self.pool)
            .await
            .is_ok();
        if !present {
            tracing::info!("adding the route column to the flights table");
            sqlx::query("ALTER TABLE flights ADD COLUMN route TEXT")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Stores a sortie and its assignments in one transaction.
    pub async fn insert_flight(&self, flight: &FlightRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO flights ({FLIGHT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&flight.id)
        .bind(&flight.drone_id)
        .bind(&flight.state)
        .bind(flight.assigned_at_ms)
        .bind(flight.started_at_ms)
        .bind(flight.ended_at_ms)
        .bind(flight.last_reached)
        .bind(i64::from(flight.mission_completed))
        .bind(flight.recalled_for.clone())
        .bind(route_text(&flight.route))
        .execute(&mut *tx)
        .await?;
        for (position, task) in flight.tasks.iter().enumerate() {
            sqlx::query("INSERT INTO flight_tasks (flight_id, position, task_id, department_id, first_item, last_item, leg, legs, finished) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(&flight.id)
                .bind(position as i64)
                .bind(&task.task_id)
                .bind(&task.department_id)
                .bind(task.items.map(|i| i.0))
                .bind(task.items.map(|i| i.1))
                .bind(task.leg.map(|l| l.0))
                .bind(task.leg.map(|l| l.1))
                .bind(i64::from(task.finished))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The drone took off with it.
    pub async fn flight_started(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE flights SET state = $1, started_at_ms = $2 WHERE id = $3 AND ended_at_ms IS NULL")
            .bind(FLIGHT_FLYING)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Item `seq` reached; the task at `position` finished with it if
    /// `finished`.
    pub async fn flight_reached(
        &self,
        id: &str,
        seq: i64,
        finished_position: Option<usize>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE flights SET last_reached = $1 WHERE id = $2")
            .bind(seq)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if let Some(position) = finished_position {
            sqlx::query(
                "UPDATE flight_tasks SET finished = 1 WHERE flight_id = $1 AND position = $2",
            )
            .bind(id)
            .bind(position as i64)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub async fn flight_mission_completed(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE flights SET mission_completed = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn flight_recalled(&self, id: &str, emergency: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE flights SET recalled_for = $1 WHERE id = $2")
            .bind(emergency)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes a flight in its final state (landed, aborted or lost).
    pub async fn end_flight(&self, id: &str, state: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE flights SET state = $1, ended_at_ms = $2 WHERE id = $3 AND ended_at_ms IS NULL",
        )
        .bind(state)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn flight(&self, id: &str) -> StoreResult<Option<FlightRow>> {
        let rows = self
            .flights_where("id = $1", &[FlightParam::Text(id.to_owned())])
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Flights not yet ended, oldest first.
    pub async fn open_flights(&self) -> StoreResult<Vec<FlightRow>> {
        self.flights_where("ended_at_ms IS NULL", &[]).await
    }

    /// Flights that were in the air at some time after `since_ms`: ended
    /// since then, or not ended yet.
    pub async fn flights_since(&self, since_ms: i64) -> StoreResult<Vec<FlightRow>> {
        self.flights_where(
            "started_at_ms IS NOT NULL AND (ended_at_ms IS NULL OR ended_at_ms >= $1)",
            &[FlightParam::Int(since_ms)],
        )
        .await
    }

    /// Every flight of a drone, newest first.
    pub async fn flights_of_drone(&self, drone_id: &str) -> StoreResult<Vec<FlightRow>> {
        let mut rows = self
            .flights_where("drone_id = $1", &[FlightParam::Text(drone_id.to_owned())])
            .await?;
        rows.reverse();
        Ok(rows)
    }

    async fn flights_where(
        &self,
        filter: &str,
        params: &[FlightParam],
    ) -> StoreResult<Vec<FlightRow>> {
        let sql = format!(
            "SELECT {FLIGHT_COLUMNS} FROM flights WHERE {filter} ORDER BY assigned_at_ms, id"
        );
        let mut query = sqlx::query(&sql);
        for p in params {
            query = match p {
                FlightParam::Text(t) => query.bind(t.clone()),
                FlightParam::Int(i) => query.bind(*i),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        // Their assignments in one more query, whatever the number of
        // flights (the accounting reads a week of them).
        let task_sql = format!("SELECT flight_id, task_id, department_id, first_item, last_item, leg, legs, finished FROM flight_tasks WHERE flight_id IN (SELECT id FROM flights WHERE {filter}) ORDER BY flight_id, position");
        let mut task_query = sqlx::query(&task_sql);
        for p in params {
            task_query = match p {
                FlightParam::Text(t) => task_query.bind(t.clone()),
                FlightParam::Int(i) => task_query.bind(*i),
            };
        }
        let mut tasks: std::collections::HashMap<String, Vec<FlightTaskRow>> =
            std::collections::HashMap::new();
        for t in task_query.fetch_all(&self.pool).await? {
            tasks.entry(t.get(0)).or_default().push(FlightTaskRow {
                task_id: t.get(1),
                department_id: t.get(2),
                items: pair(t.get(3), t.get(4)),
                leg: pair(t.get(5), t.get(6)),
                finished: t.get::<i64, _>(7) != 0,
            });
        }
        let flights: Vec<FlightRow> = rows
            .iter()
            .map(|r| {
                let id: String = r.get(0);
                let route = route_from_text(&id, r.get(9));
                FlightRow {
                    tasks: tasks.remove(&id).unwrap_or_default(),
                    id,
                    drone_id: r.get(1),
                    state: r.get(2),
                    assigned_at_ms: r.get(3),
                    started_at_ms: r.get(4),
                    ended_at_ms: r.get(5),
                    last_reached: r.get(6),
                    mission_completed: r.get::<i64, _>(7) != 0,
                    recalled_for: r.get(8),
                    route,
                }
            })
            .collect();
        Ok(flights)
    }
}

enum FlightParam {
    Text(String),
    Int(i64),
}

fn pair(a: Option<i64>, b: Option<i64>) -> Option<(i64, i64)> {
    Some((a?, b?))
}
