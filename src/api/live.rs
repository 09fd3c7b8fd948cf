//! Live streams over WebSocket and Server-Sent Events: each message is one
//! JSON object (`type` drone, task or lagged), filtered by the caller's
//! rights. A client that reads too slowly skips what it missed and gets a
//! `lagged` message saying how many; the others are not slowed.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use super::live_token::{self, LiveCaller};
use crate::auth::Caller;
use crate::live::{LiveHub, Published};

/// The next message this caller may see (its type and JSON text); None
/// when the hub has closed.
async fn next_for(
    rx: &mut Receiver<Arc<Published>>,
    caller: &Caller,
) -> Option<(&'static str, Arc<str>)> {
    loop {
        match rx.recv().await {
            Ok(published) => {
                if let Some(text) = published.text_for(caller) {
                    return Some((published.event.kind(), text));
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(user = caller.user_id, missed, "live client lagging");
                let text = json!({"type": "lagged", "missed": missed}).to_string();
                return Some(("lagged", Arc::from(text)));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

pub async fn websocket(
    State(hub): State<Arc<LiveHub>>,
    LiveCaller(caller): LiveCaller,
    upgrade: WebSocketUpgrade,
) -> Response {
    let rx = hub.subscribe();
    upgrade
        .protocols([live_token::PROTOCOL])
        .on_upgrade(move |socket| pump(socket, rx, caller))
}

/// Most messages put in one write: a burst (the whole fleet each period)
/// goes out in a few writes rather than one per drone.
const BATCH: usize = 256;

async fn pump(mut socket: WebSocket, mut rx: Receiver<Arc<Published>>, caller: Caller) {
    let text = |t: &str| Message::Text(t.into());
    loop {
        tokio::select! {
            next = next_for(&mut rx, &caller) => {
                let Some((_, first)) = next else { return };
                if socket.feed(text(&first)).await.is_err() {
                    return;
                }
                // What is already waiting joins it, without waiting for more.
                for _ in 1..BATCH {
                    let more = match rx.try_recv() {
                        Ok(published) => published.text_for(&caller),
                        Err(TryRecvError::Lagged(missed)) => Some(Arc::from(
                            json!({"type": "lagged", "missed": missed}).to_string(),
                        )),
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    };
                    if let Some(more) = more {
                        if socket.feed(text(&more)).await.is_err() {
                            return;
                        }
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients only listen; anything but a close is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

pub async fn sse(State(hub): State<Arc<LiveHub>>, caller: Caller) -> Response {
    let rx = hub.subscribe();
    let stream = futures_util::stream::unfold((rx, caller), |(mut rx, caller)| async move {
        let (kind, text) = next_for(&mut rx, &caller).await?;
        let event = Event::default().event(kind).data(text.as_ref());
        Some((Ok::<Event, Infallible>(event), (rx, caller)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::live::LiveEvent;
    use crate::store::TaskRow;
    use serde_json::Value;

    async fn next_json(rx: &mut Receiver<Arc<Published>>, caller: &Caller) -> Option<Value> {
        let (_, text) = next_for(rx, caller).await?;
        Some(serde_json::from_str(&text).unwrap())
    }

    fn task(id: &str, department: &str) -> Arc<Published> {
        Arc::new(Published::new(LiveEvent::Task(Arc::new(TaskRow {
            id: id.into(),
            department_id: department.into(),
            kind: "point_inspection".into(),
            request: Value::Null,
            state: "queued".into(),
            reason: None,
            drone_id: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            progress_seq: None,
            progress_total: None,
        }))))
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_missed_and_never_blocks_the_sender() {
        let (tx, mut slow) = tokio::sync::broadcast::channel(4);
        let mut fast = tx.subscribe();
        let caller = Caller {
            user_id: "u".into(),
            role: Role::Department,
            department: Some("urban".into()),
        };
        for i in 0..10 {
            // send never waits for readers.
            tx.send(task(&format!("t{i}"), "urban")).unwrap();
            let got = next_json(&mut fast, &caller).await.unwrap();
            assert_eq!(got["id"], format!("t{i}"));
        }
        let first = next_json(&mut slow, &caller).await.unwrap();
        assert_eq!(first, json!({"type": "lagged", "missed": 6}));
        assert_eq!(next_json(&mut slow, &caller).await.unwrap()["id"], "t6");
    }

    #[tokio::test]
    async fn another_departments_task_events_are_skipped() {
        let (tx, mut rx) = tokio::sync::broadcast::channel(8);
        let caller = Caller {
            user_id: "u".into(),
            role: Role::Department,
            department: Some("urban".into()),
        };
        tx.send(task("theirs", "environment")).unwrap();
        tx.send(task("mine", "urban")).unwrap();
        assert_eq!(next_json(&mut rx, &caller).await.unwrap()["id"], "mine");
    }
}
