//! Recurring tasks: a request flown every day or every week until a date.
//! The request's window is the first occurrence's; occurrence `k` flies in
//! that window shifted by `k` days or weeks. Each occurrence becomes a task
//! of its own, created [`LEAD_HOURS`] before its window opens, so the queue
//! holds what is coming without holding a year of it. Pure: which
//! occurrences are due is a function of the series and the time.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::task::{FieldError, TimeWindow};

/// `"recurrence": {"every": "daily" | "weekly", "until": RFC 3339}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    pub every: Every,
    /// No occurrence opens after this instant.
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Daily,
    Weekly,
}

impl Every {
    pub fn period(self) -> Duration {
        match self {
            Every::Daily => Duration::days(1),
            Every::Weekly => Duration::weeks(1),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Every::Daily => "daily",
            Every::Weekly => "weekly",
        }
    }

    pub fn parse(text: &str) -> Option<Every> {
        match text {
            "daily" => Some(Every::Daily),
            "weekly" => Some(Every::Weekly),
            _ => None,
        }
    }
}

/// An occurrence's window: when it may start, when it must be done.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// A series ends at most this long after its first window opens.
pub const MAX_SERIES_DAYS: i64 = 366;
/// An occurrence becomes a task this long before its window opens.
pub const LEAD_HOURS: i64 = 48;

/// The first occurrence's window, which a recurring request must give in
/// full.
pub fn first_window(window: Option<TimeWindow>) -> Result<Window, FieldError> {
    match window {
        Some(TimeWindow {
            start: Some(start),
            end: Some(end),
        }) => Ok((start, end)),
        _ => Err(FieldError {
            field: "window",
            message: "a recurring task needs a window with both start and end: the first occurrence flies in it, each next one in it shifted by a day or a week".into(),
        }),
    }
}

/// Checks a recurrence against its request's window.
pub fn validate(recurrence: &Recurrence, window: Option<TimeWindow>) -> Result<(), FieldError> {
    let (start, end) = first_window(window)?;
    let period = recurrence.every.period();
    if end - start > period {
        return Err(FieldError {
            field: "window",
            message: format!(
                "the window is longer than a {} period, so occurrences would overlap; shorten it to at most {} h",
                recurrence.every.as_str(),
                period.num_hours()
            ),
        });
    }
    if recurrence.until < start {
        return Err(FieldError {
            field: "recurrence.until",
            message: format!(
                "{} is before the first window opens ({start})",
                recurrence.until
            ),
        });
    }
    if recurrence.until > start + Duration::days(MAX_SERIES_DAYS) {
        return Err(FieldError {
            field: "recurrence.until",
            message: format!(
                "{} is more than {MAX_SERIES_DAYS} days after the first window opens",
                recurrence.until
            ),
        });
    }
    Ok(())
}

/// Occurrence `k`'s window.
pub fn occurrence_window(first: Window, every: Every, k: u32) -> Window {
    let shift = every.period() * k as i32;
    (first.0 + shift, first.1 + shift)
}

/// How many occurrences the series has in all.
pub fn count(first: Window, recurrence: &Recurrence) -> u32 {
    let span = recurrence.until - first.0;
    if span < Duration::zero() {
        return 0;
    }
    (span.num_seconds() / recurrence.every.period().num_seconds()) as u32 + 1
}

/// What to do with a series at `now`, starting from occurrence `next`.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// Occurrences to create now, with their windows.
    pub create: Vec<(u32, Window)>,
    /// Occurrences whose window closed before they could be created (the
    /// dispatcher was down): skipped, never flown late.
    pub missed: Vec<u32>,
    /// The next occurrence not yet handled.
    pub next: u32,
    /// Every occurrence has been handled.
    pub finished: bool,
}

pub fn due(first: Window, recurrence: &Recurrence, next: u32, now: DateTime<Utc>) -> Due {
    let total = count(first, recurrence);
    let horizon = now + Duration::hours(LEAD_HOURS);
    let mut out = Due {
        create: Vec::new(),
        missed: Vec::new(),
        next,
        finished: false,
    };
    while out.next < total {
        let window = occurrence_window(first, recurrence.every, out.next);
        if window.0 > horizon {
            break;
        }
        if window.1 <= now {
            out.missed.push(out.next);
        } else {
            out.create.push((out.next, window));
        }
        out.next += 1;
    }
    out.finished = out.next >= total;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn daily_until(until: &str) -> Recurrence {
        Recurrence {
            every: Every::Daily,
            until: t(until),
        }
    }

    const FIRST: (&str, &str) = ("2026-11-25T08:00:00Z", "2026-11-25T10:00:00Z");

    fn first() -> Window {
        (t(FIRST.0), t(FIRST.1))
    }

    #[test]
    fn each_occurrence_has_its_own_window_shifted_by_the_period() {
        let w = occurrence_window(first(), Every::Weekly, 2);
        assert_eq!(w, (t("2026-12-09T08:00:00Z"), t("2026-12-09T10:00:00Z")));
        assert_eq!(count(first(), &daily_until("2026-11-30T08:00:00Z")), 6);
        assert_eq!(count(first(), &daily_until("2026-11-30T07:59:59Z")), 5);
    }

    #[test]
    fn occurrences_are_created_two_days_ahead_and_not_before() {
        let series = daily_until("2026-12-31T00:00:00Z");
        let d = due(first(), &series, 0, t("2026-11-24T12:00:00Z"));
        // Windows opening by 26 Nov 12:00: the 25th and the 26th.
        assert_eq!(d.create.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!((d.next, d.finished), (2, false));
        let later = due(first(), &series, d.next, t("2026-11-24T12:30:00Z"));
        assert!(later.create.is_empty(), "nothing twice");
    }

    #[test]
    fn occurrences_whose_window_closed_while_nobody_ran_are_skipped() {
        let series = daily_until("2026-11-28T08:00:00Z");
        let d = due(first(), &series, 0, t("2026-11-27T09:00:00Z"));
        assert_eq!(d.missed, vec![0, 1]);
        assert_eq!(d.create.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 3]);
        assert!(d.finished);
    }

    #[test]
    fn a_series_needs_a_whole_window_no_longer_than_its_period_and_a_sensible_end() {
        let window = |s: &str, e: &str| {
            Some(TimeWindow {
                start: Some(t(s)),
                end: Some(t(e)),
            })
        };
        let ok = daily_until("2027-01-01T00:00:00Z");
        assert!(validate(&ok, window(FIRST.0, FIRST.1)).is_ok());
        assert_eq!(validate(&ok, None).unwrap_err().field, "window");
        assert_eq!(
            validate(&ok, window(FIRST.0, "2026-11-26T09:00:00Z"))
                .unwrap_err()
                .field,
            "window"
        );
        assert_eq!(
            validate(
                &daily_until("2026-11-20T00:00:00Z"),
                window(FIRST.0, FIRST.1)
            )
            .unwrap_err()
            .field,
            "recurrence.until"
        );
        assert_eq!(
            validate(
                &daily_until("2028-01-01T00:00:00Z"),
                window(FIRST.0, FIRST.1)
            )
            .unwrap_err()
            .field,
            "recurrence.until"
        );
    }
}
