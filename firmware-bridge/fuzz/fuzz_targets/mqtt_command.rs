//! Any payload on `…/commands`: read or refused with a reason, never a
//! panic; whatever is read survives a round trip and its value checks.
#![no_main]

use firmware_bridge::command_intake::read_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    match read_command(payload) {
        Ok(command) => {
            let again = read_command(&wire::encode(&command)).expect("re-encoded command reads");
            assert_eq!(format!("{again:?}"), format!("{command:?}"));
            let _ = firmware_bridge::commands::validate(&command.body);
        }
        Err(refusal) => assert!(!refusal.reason.is_empty()),
    }
});
