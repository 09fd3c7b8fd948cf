//! Reading a command payload off `…/commands`: the one place untrusted
//! bytes from the broker become a [`Command`], or a refusal saying what was
//! wrong. Pure, so it is fuzzed (fuzz/fuzz_targets/mqtt_command.rs) and run
//! over a committed corpus in the tests.

use wire::Command;

/// Longest command id the bridge remembers and answers; an id is a key in
/// the ledger and goes back out in every reply.
pub const MAX_COMMAND_ID_LEN: usize = 256;

/// Why a payload is not a command, and the id to answer, if one is readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: Option<String>,
    pub reason: String,
}

/// Decodes a command payload. Never panics, whatever the bytes.
pub fn read_command(payload: &[u8]) -> Result<Command, Refusal> {
    match wire::decode::<Command>(payload) {
        Ok(command) if valid_id(&command.id) => Ok(command),
        Ok(command) => Err(Refusal {
            id: None,
            reason: format!(
                "command id must be 1 to {MAX_COMMAND_ID_LEN} bytes, got {}",
                command.id.len()
            ),
        }),
        Err(error) => Err(Refusal {
            id: readable_id(payload),
            reason: format!("command refused: {error}"),
        }),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_COMMAND_ID_LEN
}

/// The `id` of a payload that is JSON but not a valid command, if any.
fn readable_id(payload: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let id = value.get("id")?.as_str()?;
    valid_id(id).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_string_id_of_sane_length_is_answered() {
        assert_eq!(
            read_command(br#"{"id":"c-9","kind":"fly_away"}"#)
                .unwrap_err()
                .id,
            Some("c-9".into())
        );
        assert_eq!(read_command(br#"{"id":7}"#).unwrap_err().id, None);
        assert_eq!(read_command(b"\xff garbage").unwrap_err().id, None);
        let long_id = format!(
            r#"{{"v":1,"id":"{}","ts_ms":0,"kind":"land"}}"#,
            "x".repeat(300)
        );
        let refused = read_command(long_id.as_bytes()).unwrap_err();
        assert_eq!(refused.id, None);
        assert!(refused.reason.contains("300"), "{refused:?}");
    }

    #[test]
    fn a_refusal_quotes_the_decoding_error() {
        let refused = read_command(br#"{"v":2,"id":"c-1","ts_ms":0,"kind":"land"}"#).unwrap_err();
        assert_eq!(refused.id, Some("c-1".into()));
        assert!(refused.reason.contains("version 2"), "{refused:?}");
    }
}
