//! The alert book at work: changes are stored (so open alerts and their
//! acknowledgements survive a restart) and then announced to the live
//! streams. One lock covers a change and its write, so an acknowledgement
//! and a clear of the same alert never overwrite each other.

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, Mutex};

use super::{Alert, AlertBook, AlertKind, Condition};
use crate::store::{Store, StoreError};

/// Changes a live subscriber may fall behind by before losing the oldest.
const ANNOUNCE_BUFFER: usize = 1024;

pub struct AlertDesk {
    book: Mutex<AlertBook>,
    store: Store,
    announce: broadcast::Sender<Alert>,
}

impl AlertDesk {
    pub fn new(store: Store) -> AlertDesk {
        AlertDesk {
            book: Mutex::new(AlertBook::default()),
            store,
            announce: broadcast::channel(ANNOUNCE_BUFFER).0,
        }
    }

    /// Takes back the alerts an earlier run left open.
    pub async fn load(&self) -> Result<(), StoreError> {
        let open = self.store.alerts(true, i64::MAX).await?;
        tracing::info!(open = open.len(), "open alerts restored");
        *self.book.lock().await = AlertBook::with_open(open);
        Ok(())
    }

    /// Every change to an alert (raised, cleared, acknowledged), once stored.
    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.announce.subscribe()
    }

    /// What one position of `drone` shows (see [`AlertBook::observe_position`]).
    pub async fn observe_position(&self, drone: &str, conditions: &[Condition]) {
        let mut book = self.book.lock().await;
        let changed = book.observe_position(drone, conditions, Utc::now());
        self.record(changed).await;
    }

    pub async fn raise(&self, drone: &str, condition: Condition, at: DateTime<Utc>) {
        let mut book = self.book.lock().await;
        let changed = book.raise(drone, condition, at);
        self.record(changed.into_iter().collect()).await;
    }

    pub async fn clear_kind(&self, drone: &str, kind: AlertKind, at: DateTime<Utc>) {
        let mut book = self.book.lock().await;
        let changed = book.clear_kind(drone, kind, at);
        self.record(changed).await;
    }

    pub async fn clear_key_everywhere(&self, key: &str, at: DateTime<Utc>) {
        let mut book = self.book.lock().await;
        let changed = book.clear_key_everywhere(key, at);
        self.record(changed).await;
    }

    pub async fn clear(&self, drone: &str, key: &str, at: DateTime<Utc>) {
        let mut book = self.book.lock().await;
        let changed = book.clear(drone, key, at);
        self.record(changed.into_iter().collect()).await;
    }

    /// The bridge's own status (its Last Will says offline when it drops
    /// off the broker): offline raises a `bridge_offline` alert, online
    /// clears it.
    pub async fn bridge_status(&self, drone: &str, online: bool) {
        let kind = AlertKind::BridgeOffline;
        if online {
            self.clear(drone, kind.as_str(), Utc::now()).await;
        } else {
            let condition = Condition::single(
                kind,
                "its bridge is offline: no telemetry, events or commands",
            );
            self.raise(drone, condition, Utc::now()).await;
        }
    }

    /// Acknowledges alert `id` for `who`, open or cleared. Idempotent: the
    /// first acknowledgement stands. None when there is no such alert.
    pub async fn acknowledge(&self, id: &str, who: &str) -> Result<Option<Alert>, StoreError> {
        let mut book = self.book.lock().await;
        let now = Utc::now();
        if let Some((alert, changed)) = book.acknowledge(id, who, now) {
            if changed {
                self.store.save_alert(&alert).await?;
                let _ = self.announce.send(alert.clone());
            }
            return Ok(Some(alert));
        }
        let Some(mut alert) = self.store.alert(id).await? else {
            return Ok(None);
        };
        if alert.acknowledge(who, now) {
            self.store.save_alert(&alert).await?;
            let _ = self.announce.send(alert.clone());
        }
        Ok(Some(alert))
    }

    /// Open alerts, or every alert (newest first, at most `limit`).
    pub async fn list(&self, open_only: bool, limit: i64) -> Result<Vec<Alert>, StoreError> {
        self.store.alerts(open_only, limit).await
    }

    async fn record(&self, changed: Vec<Alert>) {
        for alert in changed {
            if alert.is_open() {
                tracing::warn!(
                    drone = alert.drone_id,
                    alert = alert.id,
                    kind = alert.kind.as_str(),
                    message = alert.message,
                    "alert raised"
                );
            } else {
                tracing::info!(
                    drone = alert.drone_id,
                    alert = alert.id,
                    kind = alert.kind.as_str(),
                    "alert cleared"
                );
            }
            if let Err(error) = self.store.save_alert(&alert).await {
                // The book stays right; only the stored copy lags.
                tracing::error!(%error, alert = alert.id, "could not store an alert");
            }
            // No subscriber is not an error: nobody is watching.
            let _ = self.announce.send(alert);
        }
    }
}
