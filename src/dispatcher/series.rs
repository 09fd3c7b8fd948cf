//! Recurring tasks on the dispatcher's side: a series is vetted like a
//! one-off task (its first occurrence must pass every check), stored, and
//! its occurrences become tasks ahead of their windows, on submission and
//! then from the scheduling tick, which a restart resumes from the store.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::recurrence::{self, Recurrence};
use crate::store::{SeriesRow, StoreError, TaskRow, SERIES_ACTIVE};
use crate::task::{TaskRequest, TaskState, TimeWindow, Work};

use super::{now_ms, Dispatcher, SubmitError};

/// Series are looked at for occurrences due this often.
const SERIES_CHECK_EVERY: Duration = Duration::from_secs(30);

/// A recurring request as stored: the series, and the occurrences created
/// so far (those whose window opens within the lead time).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeriesSubmitted {
    pub series: SeriesRow,
    pub tasks: Vec<TaskRow>,
}

/// Occurrence `window`'s own request: the series' request flown once.
fn occurrence_request(
    request: &TaskRequest,
    window: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> TaskRequest {
    TaskRequest {
        window: Some(TimeWindow {
            start: Some(window.0),
            end: Some(window.1),
        }),
        recurrence: None,
        ..request.clone()
    }
}

fn refused(e: crate::task::FieldError) -> SubmitError {
    SubmitError::Refused {
        field: e.field,
        message: e.message,
    }
}

impl Dispatcher {
    /// Validates a recurring request and stores it with the occurrences
    /// due now. Nothing is stored when it is refused.
    pub async fn submit_series(
        &self,
        department_id: &str,
        request: TaskRequest,
    ) -> Result<SeriesSubmitted, SubmitError> {
        let Some(rule) = request.recurrence else {
            return Err(SubmitError::Refused {
                field: "recurrence",
                message: "not a recurring request".into(),
            });
        };
        recurrence::validate(&rule, request.window).map_err(refused)?;
        let first = recurrence::first_window(request.window).map_err(refused)?;
        self.vet(&occurrence_request(&request, first)).await?;
        let now = now_ms();
        let series = SeriesRow {
            id: uuid::Uuid::new_v4().to_string(),
            department_id: department_id.to_owned(),
            request: serde_json::to_value(&request).expect("request serialises"),
            state: SERIES_ACTIVE.into(),
            next_occurrence: 0,
            created_at_ms: now,
            updated_at_ms: now,
            reason: None,
        };
        self.store.insert_series(&series).await?;
        tracing::info!(series = %series.id, department = department_id, every = rule.every.as_str(), until = %rule.until, occurrences = recurrence::count(first, &rule), "recurring task stored");
        let tasks = self.create_occurrences(&series).await?;
        let series = self.store.series(&series.id).await?.unwrap_or(series);
        self.wake.notify_one();
        Ok(SeriesSubmitted { series, tasks })
    }

    /// Creates the occurrences now due of every active series; at most
    /// every [`SERIES_CHECK_EVERY`] unless `now` is asked for.
    pub(super) async fn create_due_occurrences(&self, now: bool) {
        {
            let mut checked = self.series_checked.lock().expect("series_checked");
            if !now && checked.is_some_and(|at| at.elapsed() < SERIES_CHECK_EVERY) {
                return;
            }
            *checked = Some(Instant::now());
        }
        let series = match self.store.active_series().await {
            Ok(series) => series,
            Err(error) => {
                tracing::error!(%error, "could not read recurring series");
                return;
            }
        };
        for s in series {
            if let Err(error) = self.create_occurrences(&s).await {
                tracing::error!(series = s.id, %error, "could not create a series' occurrences");
            }
        }
    }

    async fn create_occurrences(&self, series: &SeriesRow) -> Result<Vec<TaskRow>, StoreError> {
        let now = now_ms();
        let parsed = serde_json::from_value::<TaskRequest>(series.request.clone())
            .ok()
            .and_then(|r| {
                let rule: Recurrence = r.recurrence?;
                let first = recurrence::first_window(r.window).ok()?;
                Some((r, rule, first))
            });
        let Some((request, rule, first)) = parsed else {
            tracing::error!(
                series = series.id,
                "stored series request is unreadable; it ends here"
            );
            self.store
                .advance_series(&series.id, series.next_occurrence, true, now)
                .await?;
            return Ok(Vec::new());
        };
        let next = u32::try_from(series.next_occurrence).unwrap_or(u32::MAX);
        let due = recurrence::due(first, &rule, next, Utc::now());
        if !due.missed.is_empty() {
            tracing::warn!(series = series.id, missed = ?due.missed, "occurrences whose window closed while no dispatcher ran are skipped");
        }
        let mut created = Vec::new();
        for (k, window) in due.create {
            let occurrence = occurrence_request(&request, window);
            // A survey's progress counts its legs, as for a one-off task.
            let legs = match occurrence.work() {
                Work::Point(_) => None,
                _ => self
                    .survey_plan(&occurrence)
                    .ok()
                    .map(|p| p.legs.len() as i64),
            };
            let task = TaskRow {
                id: uuid::Uuid::new_v4().to_string(),
                department_id: series.department_id.clone(),
                kind: occurrence.kind.clone(),
                request: serde_json::to_value(&occurrence).expect("request serialises"),
                state: TaskState::Queued.as_str().into(),
                reason: Some(format!(
                    "occurrence {} of recurring series {}",
                    k + 1,
                    series.id
                )),
                drone_id: None,
                created_at_ms: now,
                updated_at_ms: now,
                progress_seq: legs.map(|_| 0),
                progress_total: legs,
            };
            if self
                .store
                .add_occurrence(&series.id, i64::from(k), &task)
                .await?
            {
                tracing::info!(
                    series = series.id,
                    occurrence = k,
                    task = task.id,
                    "occurrence queued"
                );
                created.push(task);
            }
        }
        self.store
            .advance_series(&series.id, i64::from(due.next), due.finished, now)
            .await?;
        Ok(created)
    }
}
