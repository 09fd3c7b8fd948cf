//! Any bytes on the autopilot link: folded into the vehicle state or
//! counted as skipped, never a panic.
#![no_main]

use std::time::Instant;

use firmware_bridge::events::{EventDetector, Hints};
use firmware_bridge::mavlink_input::{ingest, InputTally};
use firmware_bridge::vehicle_state::VehicleState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut tally = InputTally::default();
    let mut state = VehicleState::default();
    let mut detector = EventDetector::new();
    ingest(
        bytes,
        &mut state,
        &mut detector,
        &Hints::default(),
        Instant::now(),
        &mut tally,
    );
    assert!(tally.skipped_bytes <= bytes.len() as u64);
});
