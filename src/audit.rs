//! The audit log: every pilot and administrator action, who did it, when,
//! and how it ended. Lines are only ever appended; a command's outcome,
//! known later, is a line of its own that names the command.

use crate::auth::Caller;
use crate::store::{AuditEntry, Store, StoreError};

/// Appends one line for `caller`'s action and returns its sequence number.
pub async fn record(
    store: &Store,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    result: &str,
) -> Result<i64, StoreError> {
    let seq = store
        .append_audit(&AuditEntry {
            at_ms: chrono::Utc::now().timestamp_millis(),
            actor: caller.user_id.clone(),
            role: caller.role.as_str().to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
            result: result.to_owned(),
        })
        .await?;
    tracing::info!(seq, actor = caller.user_id, action, target, result, "audit");
    Ok(seq)
}
