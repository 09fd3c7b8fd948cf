//! When a zone applies: permanently, between a start and an end, on weekly
//! local-time windows, or the intersection of a start/end and weekly windows.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc, Weekday};
use serde_json::Value;

/// Weekly window during which a zone is active: on `days`, from `start`
/// (inclusive) to `end` (exclusive), in local time — the region's own
/// offset unless the schedule carries one (ED-269 times end in `Z`). An
/// `end` at or before `start` runs past midnight: the window opens on each
/// of `days` and closes the next day (a night closure 22:00-06:00).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// Offset the times are written in; None: the region's local time.
    pub offset: Option<FixedOffset>,
}

impl Schedule {
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({
            "days": self.days.iter().map(|d| d.to_string().to_uppercase()).collect::<Vec<_>>(),
            "start": self.start.format("%H:%M").to_string(),
            "end": self.end.format("%H:%M").to_string(),
        });
        if let Some(o) = self.offset {
            v["utc_offset_minutes"] = Value::from(o.local_minus_utc() / 60);
        }
        v
    }

    fn offset(&self, local: FixedOffset) -> FixedOffset {
        self.offset.unwrap_or(local)
    }

    /// Whether the window runs past midnight into the next day.
    pub fn overnight(&self) -> bool {
        self.end <= self.start
    }

    pub fn active_at(&self, when: DateTime<Utc>, local: FixedOffset) -> bool {
        let t = when.with_timezone(&self.offset(local));
        let time = t.time();
        if self.overnight() {
            (self.days.contains(&t.weekday()) && time >= self.start)
                || (self.days.contains(&t.weekday().pred()) && time < self.end)
        } else {
            self.days.contains(&t.weekday()) && time >= self.start && time < self.end
        }
    }

    /// The earliest instant of `[from, to]` inside one of the weekly windows.
    fn first_active(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        local: FixedOffset,
    ) -> Option<DateTime<Utc>> {
        let offset = self.offset(local);
        let mut day = from.with_timezone(&offset).date_naive();
        if self.overnight() {
            // Yesterday's window may still be open.
            day = day.pred_opt()?;
        }
        let last = to.with_timezone(&offset).date_naive();
        while day <= last {
            if self.days.contains(&day.weekday()) {
                let open = offset
                    .from_local_datetime(&day.and_time(self.start))
                    .single()?
                    .with_timezone(&Utc);
                let close_day = if self.overnight() {
                    day.succ_opt()?
                } else {
                    day
                };
                let close = offset
                    .from_local_datetime(&close_day.and_time(self.end))
                    .single()?
                    .with_timezone(&Utc);
                let lo = open.max(from);
                if lo < close && lo <= to {
                    return Some(lo);
                }
            }
            day = day.succ_opt()?;
        }
        None
    }

    pub fn describe(&self) -> String {
        format!(
            "on {} from {} to {}{} {}",
            self.days
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            if self.overnight() {
                " the next day"
            } else {
                ""
            },
            match self.offset {
                None => "local time".to_string(),
                Some(o) if o.local_minus_utc() == 0 => "UTC".to_string(),
                Some(o) => format!("UTC{o}"),
            }
        )
    }
}

/// When a zone applies. Empty `weekly` with no start or end: permanently.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applicability {
    pub start: Option<DateTime<Utc>>,
    /// Exclusive.
    pub end: Option<DateTime<Utc>>,
    /// Any of these windows, within `[start, end)`.
    pub weekly: Vec<Schedule>,
}

impl Applicability {
    pub fn permanent() -> Applicability {
        Applicability::default()
    }

    pub fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Applicability {
        Applicability {
            start: Some(start),
            end: Some(end),
            weekly: Vec::new(),
        }
    }

    pub fn weekly(schedule: Schedule) -> Applicability {
        Applicability {
            start: None,
            end: None,
            weekly: vec![schedule],
        }
    }

    pub fn is_permanent(&self) -> bool {
        self.start.is_none() && self.end.is_none() && self.weekly.is_empty()
    }

    pub fn active_at(&self, when: DateTime<Utc>, local: FixedOffset) -> bool {
        self.first_active(when, when, local).is_some()
    }

    /// The earliest instant of `[from, to]` at which the zone applies.
    pub fn first_active(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        local: FixedOffset,
    ) -> Option<DateTime<Utc>> {
        let lo = self.start.map_or(from, |s| s.max(from));
        let hi = to;
        if lo > hi {
            return None;
        }
        if let Some(end) = self.end {
            if lo >= end {
                return None;
            }
        }
        // The end is exclusive; the last instant we may report is just before it.
        let hi = self
            .end
            .map_or(hi, |e| hi.min(e - Duration::nanoseconds(1)));
        if self.weekly.is_empty() {
            return Some(lo);
        }
        self.weekly
            .iter()
            .filter_map(|s| s.first_active(lo, hi, local))
            .min()
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.start {
            parts.push(format!("from {}", s.format("%Y-%m-%d %H:%M UTC")));
        }
        if let Some(e) = self.end {
            parts.push(format!("until {}", e.format("%Y-%m-%d %H:%M UTC")));
        }
        for w in &self.weekly {
            parts.push(w.describe());
        }
        if parts.is_empty() {
            "permanently".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
    }

    #[test]
    fn start_end_window_is_half_open() {
        let a = Applicability::between(utc(14, 0), utc(16, 0));
        let z = FixedOffset::east_opt(0).unwrap();
        assert!(a.active_at(utc(14, 0), z));
        assert!(a.active_at(utc(15, 59), z));
        assert!(!a.active_at(utc(16, 0), z));
        assert_eq!(a.first_active(utc(13, 0), utc(14, 30), z), Some(utc(14, 0)));
        assert_eq!(a.first_active(utc(16, 0), utc(17, 0), z), None);
    }

    #[test]
    fn weekly_window_opening_mid_interval_is_found_in_local_time() {
        // 2026-11-28 is a Saturday; 14:00 at UTC+8 is 06:00 UTC.
        let s = Schedule {
            days: vec![Weekday::Sat],
            start: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            offset: None,
        };
        let a = Applicability::weekly(s);
        let local = FixedOffset::east_opt(8 * 3600).unwrap();
        let from = Utc.with_ymd_and_hms(2026, 11, 28, 5, 30, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 11, 28, 6, 30, 0).unwrap();
        assert_eq!(
            a.first_active(from, to, local),
            Some(Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap())
        );
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 6, 30, 0).unwrap();
        assert!(!a.active_at(sunday, local));
    }

    #[test]
    fn a_night_window_runs_past_midnight_into_the_next_day() {
        // Fridays 22:00 to 06:00 UTC; 2026-11-27 is a Friday.
        let s = Schedule {
            days: vec![Weekday::Fri],
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            offset: FixedOffset::east_opt(0),
        };
        assert!(s.describe().contains("from 22:00 to 06:00 the next day"));
        let a = Applicability::weekly(s);
        let z = FixedOffset::east_opt(0).unwrap();
        let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        assert!(!a.active_at(at(27, 21), z), "Friday 21:00");
        assert!(a.active_at(at(27, 23), z), "Friday 23:00");
        assert!(a.active_at(at(28, 2), z), "Saturday 02:00");
        assert!(!a.active_at(at(28, 7), z), "Saturday 07:00");
        assert!(
            !a.active_at(at(29, 2), z),
            "Sunday 02:00: Saturday has no window"
        );
        // A flight from Saturday 01:00 meets it at once; one from 05:00 to
        // 08:00 meets it at 05:00; one on Saturday evening not at all.
        assert_eq!(a.first_active(at(28, 1), at(28, 3), z), Some(at(28, 1)));
        assert_eq!(a.first_active(at(27, 20), at(27, 23), z), Some(at(27, 22)));
        assert_eq!(a.first_active(at(28, 7), at(28, 23), z), None);
    }
}
