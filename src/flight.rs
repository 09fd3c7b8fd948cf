//! One sortie in the air: its tasks in the order flown, which mission items
//! are whose, and how far the drone has got. Pure: the dispatcher keeps one
//! per flying drone and the store keeps the same facts
//! ([`crate::store::FlightRow`]), so a restarted dispatcher credits progress
//! and photos exactly as the one that launched the sortie would have.

use crate::store::{FlightRow, FlightTaskRow};

/// A survey leg: which one, of how many.
pub type Leg = (usize, usize);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flight {
    /// The stored flight's id; empty for a flight picked up after a restart
    /// from a store that had no flight records.
    pub id: String,
    pub tasks: Vec<FlightTask>,
    /// The last mission item the drone reported reaching.
    pub last_reached: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlightTask {
    pub id: String,
    /// First and last mission item. Unknown only for a flight picked up
    /// from a store that had no flight records.
    pub items: Option<(u16, u16)>,
    /// For a survey: which leg this flight flies, and of how many.
    pub leg: Option<Leg>,
    pub finished: bool,
}

/// What one `mission_item_reached` means for the sortie's tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Index of the task in the sortie.
    pub index: usize,
    pub task_id: String,
    pub leg: Option<Leg>,
    /// Items of this task reached so far, of how many.
    pub reached: u16,
    pub of: u16,
    /// The task's last item was reached with this one.
    pub finished: bool,
}

impl Flight {
    pub fn task_ids(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.id.clone()).collect()
    }

    /// The task whose items include `seq`; without known items, the first
    /// unfinished task.
    pub fn task_at(&self, seq: Option<u16>) -> Option<&FlightTask> {
        seq.and_then(|seq| {
            self.tasks.iter().find(|t| {
                t.items
                    .is_some_and(|(first, last)| first <= seq && seq <= last)
            })
        })
        .or_else(|| self.tasks.iter().find(|t| !t.finished))
    }

    pub fn current(&self) -> Option<&FlightTask> {
        self.tasks.iter().find(|t| !t.finished)
    }

    /// Records that item `seq` (of `total`) was reached and says whose it
    /// was. Take-off and return belong to no task; only a flight whose
    /// items are unknown credits its first unfinished task.
    pub fn reach(&mut self, seq: u16, total: u16) -> Option<Progress> {
        self.last_reached = Some(seq);
        let index = self
            .tasks
            .iter()
            .position(|t| t.items.is_some_and(|(a, b)| a <= seq && seq <= b))
            .or_else(|| {
                self.tasks
                    .iter()
                    .position(|t| t.items.is_none() && !t.finished)
            })?;
        let task = &mut self.tasks[index];
        Some(match task.items {
            Some((first, last)) => {
                task.finished |= seq == last;
                Progress {
                    index,
                    task_id: task.id.clone(),
                    leg: task.leg,
                    reached: seq.saturating_sub(first) + 1,
                    of: last - first + 1,
                    finished: seq == last,
                }
            }
            None => Progress {
                index,
                task_id: task.id.clone(),
                leg: None,
                reached: seq + 1,
                of: total,
                finished: false,
            },
        })
    }

    /// The flight as the store keeps it (departments by task, in order).
    pub fn to_row(&self, drone_id: &str, departments: &[String], now_ms: i64) -> FlightRow {
        FlightRow {
            id: self.id.clone(),
            drone_id: drone_id.to_owned(),
            state: crate::store::FLIGHT_UPLOADING.into(),
            assigned_at_ms: now_ms,
            started_at_ms: None,
            ended_at_ms: None,
            last_reached: self.last_reached.map(i64::from),
            mission_completed: false,
            recalled_for: None,
            route: Vec::new(),
            tasks: self
                .tasks
                .iter()
                .zip(departments)
                .map(|(t, department)| FlightTaskRow {
                    task_id: t.id.clone(),
                    department_id: department.clone(),
                    items: t.items.map(|(a, b)| (i64::from(a), i64::from(b))),
                    leg: t.leg.map(|(a, b)| (a as i64, b as i64)),
                    finished: t.finished,
                })
                .collect(),
        }
    }

    /// The flight a stored row describes. Item numbers out of range (a row
    /// written by hand) are dropped rather than trusted.
    pub fn from_row(row: &FlightRow) -> Flight {
        let item = |v: i64| u16::try_from(v).ok();
        Flight {
            id: row.id.clone(),
            last_reached: row.last_reached.and_then(item),
            tasks: row
                .tasks
                .iter()
                .map(|t| FlightTask {
                    id: t.task_id.clone(),
                    items: t.items.and_then(|(a, b)| Some((item(a)?, item(b)?))),
                    leg: t.leg.and_then(|(a, b)| {
                        Some((usize::try_from(a).ok()?, usize::try_from(b).ok()?))
                    }),
                    finished: t.finished,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_tasks() -> Flight {
        Flight {
            id: "f".into(),
            tasks: vec![
                FlightTask {
                    id: "a".into(),
                    items: Some((1, 5)),
                    leg: None,
                    finished: false,
                },
                FlightTask {
                    id: "b".into(),
                    items: Some((6, 9)),
                    leg: None,
                    finished: false,
                },
            ],
            last_reached: None,
        }
    }

    #[test]
    fn items_are_credited_to_the_task_they_belong_to() {
        let mut flight = two_tasks();
        assert_eq!(flight.reach(0, 11), None, "take-off is nobody's");
        let p = flight.reach(5, 11).unwrap();
        assert_eq!(
            (p.task_id.as_str(), p.reached, p.of, p.finished),
            ("a", 5, 5, true)
        );
        let p = flight.reach(7, 11).unwrap();
        assert_eq!(
            (p.task_id.as_str(), p.reached, p.of, p.finished),
            ("b", 2, 4, false)
        );
        assert_eq!(flight.task_at(flight.last_reached).unwrap().id, "b");
        assert_eq!(flight.reach(10, 11), None, "the return is nobody's");
    }

    #[test]
    fn a_flight_read_back_from_its_row_credits_the_same_way() {
        let mut flight = two_tasks();
        flight.reach(5, 11);
        let departments = vec!["water".to_string(), "urban".to_string()];
        let mut row = flight.to_row("d1", &departments, 1);
        row.last_reached = flight.last_reached.map(i64::from);
        let mut back = Flight::from_row(&row);
        assert_eq!(back, flight);
        assert_eq!(back.reach(6, 11).unwrap().task_id, "b");
        assert_eq!(row.tasks[1].department_id, "urban");
    }

    #[test]
    fn item_numbers_out_of_range_are_not_trusted() {
        let mut row = two_tasks().to_row("d1", &["w".into(), "w".into()], 1);
        row.tasks[0].items = Some((-1, 70_000));
        assert_eq!(Flight::from_row(&row).tasks[0].items, None);
    }
}
