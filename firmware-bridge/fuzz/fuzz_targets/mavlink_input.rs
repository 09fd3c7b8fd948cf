//! Any bytes on the autopilot link: folded into the vehicle state or
//! counted as skipped, never a panic; and read the same whether they come
//! as one datagram or as a stream in pieces.
#![no_main]

use std::time::Instant;

use firmware_bridge::events::{EventDetector, Hints};
use firmware_bridge::mavlink_input::{ingest, read_frames, InputTally, StreamScanner};
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

    let piece = 1 + usize::from(bytes.first().copied().unwrap_or(0) % 64);
    let mut streamed = InputTally::default();
    let mut scanner = StreamScanner::new();
    let mut frames = 0;
    for chunk in bytes.chunks(piece) {
        frames += scanner.push(chunk, &mut streamed, |_| true).len();
    }
    frames += scanner.finish(&mut streamed, |_| true).len();
    let mut whole = InputTally::default();
    assert_eq!(frames, read_frames(bytes, &mut whole).len());
    assert_eq!(streamed, whole);
});
