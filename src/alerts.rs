//! Alerts a pilot acts on, each with an identity: raised when a condition
//! starts (a drone leaves its planned route, enters a zone, its autopilot
//! declares a failsafe, breaches its fence, its bridge stops hearing it or
//! drops off the broker), cleared when the condition ends, and acknowledged by a person.
//!
//! The [`AlertBook`] is pure: it is told what is true now and answers with
//! the alerts that changed, so the same conditions seen on every telemetry
//! message raise an alert once. Storing and broadcasting the changes is the
//! [`desk`]'s job.

pub mod desk;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::airspace::conformance;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Off its planned volumes (in space or in time).
    OffRoute,
    /// Inside a zone that refuses flight.
    InZone,
    /// Closer to such a zone than the warning distance.
    NearZone,
    /// Outside the operating area.
    OutsideArea,
    /// The autopilot took over (battery, link, GPS...), or switched to
    /// return or land on its own.
    Failsafe,
    /// The vehicle breached its geofence.
    FenceBreach,
    /// The bridge stopped hearing its autopilot.
    LinkLost,
    /// The bridge itself is off the broker (its Last Will).
    BridgeOffline,
    /// Its airspace changed under it in a way the dispatcher cannot settle
    /// alone (its way home crosses a new restriction, a flight of higher
    /// priority now shares its airspace): the pilot must act.
    AirspaceConflict,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::OffRoute => "off_route",
            AlertKind::InZone => "in_zone",
            AlertKind::NearZone => "near_zone",
            AlertKind::OutsideArea => "outside_area",
            AlertKind::Failsafe => "failsafe",
            AlertKind::FenceBreach => "fence_breach",
            AlertKind::LinkLost => "link_lost",
            AlertKind::BridgeOffline => "bridge_offline",
            AlertKind::AirspaceConflict => "airspace_conflict",
        }
    }

    pub fn parse(text: &str) -> Option<AlertKind> {
        [
            AlertKind::OffRoute,
            AlertKind::InZone,
            AlertKind::NearZone,
            AlertKind::OutsideArea,
            AlertKind::Failsafe,
            AlertKind::FenceBreach,
            AlertKind::LinkLost,
            AlertKind::BridgeOffline,
            AlertKind::AirspaceConflict,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// Kinds recomputed from each position (conformance), as opposed to
    /// those the bridge announces and ends with events of its own.
    pub fn from_position(self) -> bool {
        matches!(
            self,
            AlertKind::OffRoute | AlertKind::InZone | AlertKind::NearZone | AlertKind::OutsideArea
        )
    }
}

/// A condition true of one drone now. `key` tells conditions of one kind
/// apart (one alert per zone the drone is in); the message is the words a
/// pilot reads when it is raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub kind: AlertKind,
    pub key: String,
    pub message: String,
}

impl Condition {
    /// A condition of a kind that has one instance per drone.
    pub fn single(kind: AlertKind, message: impl Into<String>) -> Condition {
        Condition {
            kind,
            key: kind.as_str().to_owned(),
            message: message.into(),
        }
    }

    /// The condition a conformance finding stands for.
    pub fn from_conformance(alert: &conformance::Alert) -> Condition {
        let message = describe(alert);
        match alert {
            conformance::Alert::OutsideVolume { .. } => {
                Condition::single(AlertKind::OffRoute, message)
            }
            conformance::Alert::InZone { zone_id, .. } => Condition {
                kind: AlertKind::InZone,
                key: format!("in_zone:{zone_id}"),
                message,
            },
            conformance::Alert::NearZone { zone_id, .. } => Condition {
                kind: AlertKind::NearZone,
                key: format!("near_zone:{zone_id}"),
                message,
            },
            conformance::Alert::OutsideOperatingArea => {
                Condition::single(AlertKind::OutsideArea, message)
            }
        }
    }
}

/// A conformance finding in words a pilot can act on.
pub fn describe(alert: &conformance::Alert) -> String {
    match alert {
        conformance::Alert::OutsideVolume {
            distance_m: Some(d),
            on_route: true,
        } => format!(
            "on its planned route but off its planned time: {d:.0} m from where the plan has it now"
        ),
        conformance::Alert::OutsideVolume {
            distance_m: Some(d),
            on_route: false,
        } => format!("off its planned route by {d:.0} m"),
        conformance::Alert::OutsideVolume {
            distance_m: None, ..
        } => "outside its planned time: no planned volume is active now".to_string(),
        conformance::Alert::InZone { zone_id, kind } => {
            format!("inside zone {zone_id} ({kind})")
        }
        conformance::Alert::NearZone {
            zone_id,
            distance_m,
        } => format!("{distance_m:.0} m from zone {zone_id}"),
        conformance::Alert::OutsideOperatingArea => "outside the operating area".to_string(),
    }
}

/// One alert, as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: String,
    pub drone_id: String,
    pub kind: AlertKind,
    /// Tells apart alerts of one kind on one drone (the zone's id).
    #[serde(skip)]
    pub key: String,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

impl Alert {
    pub fn is_open(&self) -> bool {
        self.cleared_at.is_none()
    }

    /// Records who acknowledged it; the first acknowledgement stands.
    /// Returns whether this changed the alert.
    pub fn acknowledge(&mut self, who: &str, at: DateTime<Utc>) -> bool {
        if self.acknowledged_by.is_some() {
            return false;
        }
        self.acknowledged_by = Some(who.to_owned());
        self.acknowledged_at = Some(at);
        true
    }
}

/// A condition from position must stay away this long before its alert
/// clears, so a drone hovering on a boundary (GPS noise) does not raise a
/// new alert every few messages.
pub const CLEAR_AFTER_MS: i64 = 2_000;

/// Drone and condition key.
type BookKey = (String, String);

/// The open alerts, one per drone and condition key.
#[derive(Debug, Default)]
pub struct AlertBook {
    open: BTreeMap<BookKey, Alert>,
    /// Since when an open alert's condition from position has not been seen.
    absent_since: BTreeMap<BookKey, DateTime<Utc>>,
}

impl AlertBook {
    /// A book holding alerts still open from an earlier run; cleared ones
    /// are ignored.
    pub fn with_open(alerts: impl IntoIterator<Item = Alert>) -> AlertBook {
        AlertBook {
            open: alerts
                .into_iter()
                .filter(Alert::is_open)
                .map(|a| ((a.drone_id.clone(), a.key.clone()), a))
                .collect(),
            absent_since: BTreeMap::new(),
        }
    }

    /// What one position of `drone` shows: every condition from position
    /// not already open is raised; an open one not shown for
    /// [`CLEAR_AFTER_MS`] is cleared, as of when it was first missing.
    /// Alerts the bridge announces are left alone.
    pub fn observe_position(
        &mut self,
        drone: &str,
        conditions: &[Condition],
        now: DateTime<Utc>,
    ) -> Vec<Alert> {
        let mut changed = Vec::new();
        let (shown, gone): (Vec<BookKey>, Vec<BookKey>) = self
            .open
            .iter()
            .filter(|((d, _), alert)| d == drone && alert.kind.from_position())
            .map(|(k, _)| k.clone())
            .partition(|(_, key)| conditions.iter().any(|c| &c.key == key));
        for key in shown {
            self.absent_since.remove(&key);
        }
        for key in gone {
            let since = *self.absent_since.entry(key.clone()).or_insert(now);
            if (now - since).num_milliseconds() >= CLEAR_AFTER_MS {
                changed.extend(self.close(&key, since));
            }
        }
        for condition in conditions.iter().filter(|c| c.kind.from_position()) {
            changed.extend(self.raise(drone, condition.clone(), now));
        }
        changed
    }

    /// Raises `condition` on `drone` unless an alert for it is already
    /// open; returns the new alert.
    pub fn raise(
        &mut self,
        drone: &str,
        condition: Condition,
        now: DateTime<Utc>,
    ) -> Option<Alert> {
        let key = (drone.to_owned(), condition.key.clone());
        if self.open.contains_key(&key) {
            return None;
        }
        let alert = Alert {
            id: uuid::Uuid::new_v4().to_string(),
            drone_id: drone.to_owned(),
            kind: condition.kind,
            key: condition.key,
            message: condition.message,
            raised_at: now,
            cleared_at: None,
            acknowledged_by: None,
            acknowledged_at: None,
        };
        self.open.insert(key, alert.clone());
        Some(alert)
    }

    /// Clears every open alert of `drone` of `kind` (those its flight
    /// raised end with the flight).
    pub fn clear_kind(&mut self, drone: &str, kind: AlertKind, now: DateTime<Utc>) -> Vec<Alert> {
        let keys: Vec<(String, String)> = self
            .open
            .iter()
            .filter(|((d, _), a)| d == drone && a.kind == kind)
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter().filter_map(|k| self.close(k, now)).collect()
    }

    /// Clears the open alerts of condition `key` on every drone.
    pub fn clear_key_everywhere(&mut self, key: &str, now: DateTime<Utc>) -> Vec<Alert> {
        let keys: Vec<(String, String)> = self
            .open
            .keys()
            .filter(|(_, k)| k == key)
            .cloned()
            .collect();
        keys.iter().filter_map(|k| self.close(k, now)).collect()
    }

    /// Clears the open alert of `drone` for condition `key`, if any.
    pub fn clear(&mut self, drone: &str, key: &str, now: DateTime<Utc>) -> Option<Alert> {
        self.close(&(drone.to_owned(), key.to_owned()), now)
    }

    fn close(&mut self, key: &(String, String), now: DateTime<Utc>) -> Option<Alert> {
        self.absent_since.remove(key);
        let mut alert = self.open.remove(key)?;
        alert.cleared_at = Some(now);
        Some(alert)
    }

    /// Acknowledges an open alert by id. None when no open alert has that
    /// id (it may be cleared: the store holds it then). The alert is
    /// returned either way when open, changed says whether this call
    /// acknowledged it.
    pub fn acknowledge(
        &mut self,
        id: &str,
        who: &str,
        now: DateTime<Utc>,
    ) -> Option<(Alert, bool)> {
        let alert = self.open.values_mut().find(|a| a.id == id)?;
        let changed = alert.acknowledge(who, now);
        Some((alert.clone(), changed))
    }

    /// The open alerts, oldest first.
    pub fn open(&self) -> Vec<Alert> {
        let mut all: Vec<Alert> = self.open.values().cloned().collect();
        all.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then(a.id.cmp(&b.id)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_flights_airspace_conflicts_end_with_it_and_nothing_else_does() {
        let mut book = AlertBook::default();
        let conflict = |key: &str| Condition {
            kind: AlertKind::AirspaceConflict,
            key: format!("airspace_conflict:{key}"),
            message: "give way".into(),
        };
        book.raise("d1", conflict("R-1"), at(0));
        book.raise("d1", conflict("priority:d2"), at(1));
        book.raise(
            "d1",
            Condition::single(AlertKind::LinkLost, "link lost"),
            at(2),
        );
        book.raise("d2", conflict("R-1"), at(3));
        let cleared = book.clear_kind("d1", AlertKind::AirspaceConflict, at(4));
        assert_eq!(cleared.len(), 2, "{cleared:?}");
        assert!(cleared.iter().all(|a| a.cleared_at == Some(at(4))));
        // The link alert and the other drone's stay open.
        assert!(book.clear("d1", "link_lost", at(5)).is_some());
        assert!(book.clear("d2", "airspace_conflict:R-1", at(5)).is_some());
        // A give-way key, raised on two drones, ends on both at once.
        book.raise("d3", conflict("priority:d9"), at(6));
        book.raise("d4", conflict("priority:d9"), at(6));
        book.raise("d4", conflict("priority:d8"), at(6));
        assert_eq!(
            book.clear_key_everywhere("airspace_conflict:priority:d9", at(7))
                .len(),
            2
        );
        assert!(book
            .clear("d4", "airspace_conflict:priority:d8", at(8))
            .is_some());
    }

    fn in_zone(zone: &str) -> Condition {
        Condition {
            kind: AlertKind::InZone,
            key: format!("in_zone:{zone}"),
            message: format!("inside zone {zone}"),
        }
    }

    #[test]
    fn a_condition_seen_on_every_position_raises_one_alert_and_clears_once_when_it_ends() {
        let mut book = AlertBook::default();
        let raised = book.observe_position("d1", &[in_zone("Z")], at(0));
        assert_eq!(raised.len(), 1);
        assert!(raised[0].is_open());
        assert!(book
            .observe_position("d1", &[in_zone("Z")], at(1))
            .is_empty());
        assert!(book.observe_position("d1", &[], at(2)).is_empty());
        let cleared = book.observe_position("d1", &[], at(4));
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].id, raised[0].id);
        // Cleared as of when the condition was first seen gone.
        assert_eq!(cleared[0].cleared_at, Some(at(2)));
        assert!(book.open().is_empty());
        // The same condition again is a new alert.
        let again = book.observe_position("d1", &[in_zone("Z")], at(5));
        assert_ne!(again[0].id, raised[0].id);
    }

    #[test]
    fn a_condition_flickering_on_a_boundary_stays_one_alert() {
        let mut book = AlertBook::default();
        let raised = book.observe_position("d1", &[in_zone("Z")], at(0));
        // Seen every other second: never gone for two seconds.
        for s in 1..20 {
            let conditions = if s % 2 == 0 {
                vec![in_zone("Z")]
            } else {
                Vec::new()
            };
            assert!(book.observe_position("d1", &conditions, at(s)).is_empty());
        }
        assert_eq!(book.open().len(), 1);
        assert_eq!(book.open()[0].id, raised[0].id);
    }

    #[test]
    fn alerts_are_per_drone_and_per_zone() {
        let mut book = AlertBook::default();
        book.observe_position("d1", &[in_zone("A"), in_zone("B")], at(0));
        book.observe_position("d2", &[in_zone("A")], at(0));
        assert_eq!(book.open().len(), 3);
        assert!(book
            .observe_position("d1", &[in_zone("B")], at(1))
            .is_empty());
        let changed = book.observe_position("d1", &[in_zone("B")], at(3));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].key, "in_zone:A");
        assert_eq!(changed[0].drone_id, "d1");
        assert_eq!(book.open().len(), 2);
    }

    #[test]
    fn positions_never_clear_what_the_bridge_announced() {
        let mut book = AlertBook::default();
        let failsafe = book
            .raise(
                "d1",
                Condition::single(AlertKind::Failsafe, "battery"),
                at(0),
            )
            .unwrap();
        assert!(book.observe_position("d1", &[], at(1)).is_empty());
        assert!(book.observe_position("d1", &[], at(9)).is_empty());
        // A repeated announcement is the same alert.
        assert!(book
            .raise(
                "d1",
                Condition::single(AlertKind::Failsafe, "battery"),
                at(2)
            )
            .is_none());
        let cleared = book.clear("d1", "failsafe", at(3)).unwrap();
        assert_eq!(cleared.id, failsafe.id);
        assert!(book.clear("d1", "failsafe", at(4)).is_none());
    }

    #[test]
    fn the_first_acknowledgement_stands_and_repeating_it_changes_nothing() {
        let mut book = AlertBook::default();
        let alert = book
            .raise("d1", Condition::single(AlertKind::LinkLost, "lost"), at(0))
            .unwrap();
        let (acked, changed) = book.acknowledge(&alert.id, "pilot-a", at(5)).unwrap();
        assert!(changed);
        assert_eq!(acked.acknowledged_by.as_deref(), Some("pilot-a"));
        assert_eq!(acked.acknowledged_at, Some(at(5)));
        let (again, changed) = book.acknowledge(&alert.id, "pilot-b", at(6)).unwrap();
        assert!(!changed);
        assert_eq!(again.acknowledged_by.as_deref(), Some("pilot-a"));
        assert!(book.acknowledge("nope", "pilot-a", at(6)).is_none());
        // Acknowledged alerts stay open until their condition ends.
        assert_eq!(book.open().len(), 1);
    }

    #[test]
    fn a_book_restored_after_a_restart_keeps_open_alerts_and_their_ids() {
        let mut before = AlertBook::default();
        let open = before.observe_position("d1", &[in_zone("Z")], at(0));
        let mut closed = open[0].clone();
        closed.id = "old".into();
        closed.cleared_at = Some(at(1));
        let mut after = AlertBook::with_open(vec![open[0].clone(), closed]);
        assert_eq!(after.open().len(), 1);
        assert!(after
            .observe_position("d1", &[in_zone("Z")], at(2))
            .is_empty());
        assert!(after.observe_position("d1", &[], at(3)).is_empty());
        assert_eq!(after.observe_position("d1", &[], at(5))[0].id, open[0].id);
    }

    #[test]
    fn conformance_findings_key_by_zone_and_kinds_round_trip() {
        let c = Condition::from_conformance(&conformance::Alert::NearZone {
            zone_id: "Z-HOSP".into(),
            distance_m: 42.0,
        });
        assert_eq!(c.kind, AlertKind::NearZone);
        assert_eq!(c.key, "near_zone:Z-HOSP");
        assert_eq!(c.message, "42 m from zone Z-HOSP");
        for kind in [
            AlertKind::OffRoute,
            AlertKind::InZone,
            AlertKind::NearZone,
            AlertKind::OutsideArea,
            AlertKind::Failsafe,
            AlertKind::FenceBreach,
            AlertKind::LinkLost,
            AlertKind::BridgeOffline,
        ] {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AlertKind::parse("weather"), None);
    }
}
