//! Live streams over WebSocket and Server-Sent Events: each message is one
//! JSON object (`type` drone, task or lagged), filtered by the caller's
//! rights. A client that reads too slowly skips what it missed and gets a
//! `lagged` message saying how many; the others are not slowed. A client
//! that takes nothing at all for [`Limits::live_write_deadline`] is
//! hopeless and is disconnected, so each client costs at most a bounded
//! write buffer for a bounded time.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;

use super::live_token::{self, LiveCaller};
#[cfg(doc)]
use super::Limits;
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

/// How long a live client may take to accept one write; set from
/// [`Limits::live_write_deadline`].
#[derive(Debug, Clone, Copy)]
pub struct WriteDeadline(pub Duration);

/// Bytes of frames a WebSocket client may have waiting in the server's
/// write buffer before a write waits for its socket (tungstenite's default
/// is 128 KiB; a drone message is ~700 bytes). It is also what one write
/// may have to push out, so a client must take this much per deadline to
/// stay connected: 32 KiB in 10 s is ~5 messages a second.
const WRITE_BUFFER: usize = 32 * 1024;
/// Hard cap on that buffer: a write that would grow it further fails and
/// the client is dropped (the buffer only grows past [`WRITE_BUFFER`] when
/// writes fail, so this is a guard, not the usual path).
const MAX_WRITE_BUFFER: usize = 4 * WRITE_BUFFER;
/// How long the close frame to a client that missed its deadline may take
/// before the connection is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// The close reason a hopeless client is given (when it reads again).
const TOO_SLOW: &str = "too slow: a live write did not complete within the deadline";

pub async fn websocket(
    State(hub): State<Arc<LiveHub>>,
    State(WriteDeadline(deadline)): State<WriteDeadline>,
    LiveCaller(caller): LiveCaller,
    upgrade: WebSocketUpgrade,
) -> Response {
    let rx = hub.subscribe();
    upgrade
        .protocols([live_token::PROTOCOL])
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| pump(socket, rx, caller, deadline))
}

/// Most messages put in one write: a burst (the whole fleet each period)
/// goes out in a few writes rather than one per drone.
const BATCH: usize = 256;

fn text(t: &str) -> Message {
    Message::Text(t.into())
}

/// Why a write to a client ended early.
enum SendFailed {
    /// The connection is closed or broken: nothing to tell it.
    Gone,
    /// One write waited longer than the deadline for the client's socket.
    TooSlow,
}

/// One write (a message put in the buffer, or a flush), given `deadline`.
async fn within(
    deadline: Duration,
    write: impl std::future::Future<Output = Result<(), axum::Error>>,
) -> Result<(), SendFailed> {
    match tokio::time::timeout(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(SendFailed::Gone),
        Err(_) => Err(SendFailed::TooSlow),
    }
}

/// Writes `first` and whatever else is already waiting (up to [`BATCH`]),
/// then flushes; each write has its own deadline, so a slow reader that
/// keeps taking something stays (and skips what it misses), while one that
/// takes nothing for a whole deadline does not.
async fn send_batch(
    socket: &mut WebSocket,
    rx: &mut Receiver<Arc<Published>>,
    caller: &Caller,
    first: &str,
    deadline: Duration,
) -> Result<(), SendFailed> {
    within(deadline, socket.feed(text(first))).await?;
    // What is already waiting joins it, without waiting for more.
    for _ in 1..BATCH {
        let more = match rx.try_recv() {
            Ok(published) => published.text_for(caller),
            Err(TryRecvError::Lagged(missed)) => Some(Arc::from(
                json!({"type": "lagged", "missed": missed}).to_string(),
            )),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        };
        if let Some(more) = more {
            within(deadline, socket.feed(text(&more))).await?;
        }
    }
    within(deadline, socket.flush()).await
}

async fn pump(
    mut socket: WebSocket,
    mut rx: Receiver<Arc<Published>>,
    caller: Caller,
    deadline: Duration,
) {
    loop {
        tokio::select! {
            next = next_for(&mut rx, &caller) => {
                let Some((_, first)) = next else { return };
                match send_batch(&mut socket, &mut rx, &caller, &first, deadline).await {
                    Ok(()) => {}
                    Err(SendFailed::Gone) => return,
                    Err(SendFailed::TooSlow) => {
                        disconnect_too_slow(socket, &caller, deadline).await;
                        return;
                    }
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

/// A client whose socket took nothing for a whole deadline: lagging (and
/// the `lagged` message) is for clients that read slowly, this one does
/// not read. It is told why if its socket takes the close frame soon, and
/// dropped either way, which frees its buffer and its subscription.
async fn disconnect_too_slow(mut socket: WebSocket, caller: &Caller, deadline: Duration) {
    tracing::warn!(
        user = caller.user_id,
        role = caller.role.as_str(),
        deadline_ms = deadline.as_millis() as u64,
        reason = TOO_SLOW,
        "live client disconnected: a write did not complete in time"
    );
    let frame = CloseFrame {
        code: close_code::POLICY,
        reason: TOO_SLOW.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.send(Message::Close(Some(frame)))).await;
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
