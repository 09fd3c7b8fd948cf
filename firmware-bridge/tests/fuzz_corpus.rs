//! The fuzz targets' code paths over a fixed, committed corpus plus
//! deterministic mutations of it, so every test run exercises them briefly
//! (cargo-fuzz in firmware-bridge/fuzz/ runs the same functions for longer).
//! Corpus: tests/fuzz_corpus/mqtt_command/*.json (command payloads as the
//! broker delivers them) and tests/fuzz_corpus/mavlink/*.hex (bytes from the
//! autopilot link, hex-encoded so they can be reviewed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use firmware_bridge::command_intake::read_command;
use firmware_bridge::events::{EventDetector, Hints};
use firmware_bridge::mavlink_input::{ingest, read_frames, InputTally, StreamScanner};
use firmware_bridge::vehicle_state::VehicleState;
use wire::EventBody;

const MUTATIONS_PER_FILE: usize = 300;

fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("corpus {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let bytes = if kind == "mavlink" {
                decode_hex(std::str::from_utf8(&bytes).unwrap().trim())
            } else {
                bytes
            };
            (name, bytes)
        })
        .collect()
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex corpus"))
        .collect()
}

/// xorshift64*: deterministic, so a failure is reproducible from its seed.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// One to four random edits: bit flips, byte overwrites, deletions,
    /// insertions, duplicated slices, truncation, and numbers made extreme.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(7) {
                0 if !bytes.is_empty() => {
                    let at = at.min(bytes.len() - 1);
                    bytes[at] ^= 1 << self.below(8);
                }
                1 if !bytes.is_empty() => {
                    let at = at.min(bytes.len() - 1);
                    bytes[at] = self.next() as u8;
                }
                2 => {
                    let end = (at + 1 + self.below(16)).min(bytes.len());
                    bytes.drain(at.min(end)..end);
                }
                3 => {
                    let noise: Vec<u8> =
                        (0..1 + self.below(8)).map(|_| self.next() as u8).collect();
                    bytes.splice(at..at, noise);
                }
                4 if !bytes.is_empty() => {
                    let start = self.below(bytes.len());
                    let end = (start + 1 + self.below(32)).min(bytes.len());
                    let copy = bytes[start..end].to_vec();
                    bytes.splice(at..at, copy);
                }
                5 => bytes.truncate(at),
                _ => {
                    let extreme: &[u8] = match self.below(5) {
                        0 => b"1e999",
                        1 => b"-0",
                        2 => b"null",
                        3 => b"18446744073709551616",
                        _ => b"\"\\u0000\"",
                    };
                    bytes.splice(at..at, extreme.iter().copied());
                }
            }
        }
        bytes
    }
}

#[test]
fn every_mqtt_command_in_the_corpus_and_its_mutations_is_read_or_refused_with_a_reason() {
    let files = corpus("mqtt_command");
    assert!(files.len() >= 15, "corpus too small: {}", files.len());
    let valid = [
        "arm.json",
        "change_speed.json",
        "pause.json",
        "reposition.json",
        "set_telemetry_rate.json",
        "start_mission.json",
        "upload_fence.json",
        "upload_mission.json",
        "upload_rally.json",
    ];
    let (mut read, mut refused) = (0usize, 0usize);
    for (index, (name, bytes)) in files.iter().enumerate() {
        match read_command(bytes) {
            Ok(_) => assert!(valid.contains(&name.as_str()), "{name} should be refused"),
            Err(refusal) => {
                assert!(!valid.contains(&name.as_str()), "{name}: {refusal:?}");
                assert!(!refusal.reason.is_empty());
            }
        }
        let mut mutator = Mutator(0x9e37_79b9_7f4a_7c15 ^ index as u64);
        for _ in 0..MUTATIONS_PER_FILE {
            let mutated = mutator.mutate(bytes);
            match read_command(&mutated) {
                Ok(command) => {
                    read += 1;
                    // Whatever was accepted survives a round trip unchanged,
                    // and the value checks run on it without panicking.
                    let again =
                        read_command(&wire::encode(&command)).expect("re-encoded command reads");
                    assert_eq!(format!("{again:?}"), format!("{command:?}"));
                    let _ = firmware_bridge::commands::validate(&command.body);
                }
                Err(refusal) => {
                    refused += 1;
                    assert!(refusal.reason.starts_with("command"), "{refusal:?}");
                }
            }
        }
    }
    // The mutations must reach both sides, or they test nothing. Most byte
    // edits break the JSON; the few that survive exercise the accepted path.
    assert!(
        read >= 20 && refused > 1000,
        "read {read}, refused {refused}"
    );
}

#[test]
fn every_mavlink_input_in_the_corpus_and_its_mutations_is_folded_or_counted() {
    let files = corpus("mavlink");
    assert!(files.len() >= 8, "corpus too small: {}", files.len());
    let mut totals = InputTally::default();
    for (index, (name, bytes)) in files.iter().enumerate() {
        let mut inputs = vec![bytes.clone()];
        let mut mutator = Mutator(0xd1b5_4a32_d192_ed03 ^ index as u64);
        inputs.extend((0..MUTATIONS_PER_FILE).map(|_| mutator.mutate(bytes)));
        for input in inputs {
            let mut tally = InputTally::default();
            let mut state = VehicleState::default();
            let mut detector = EventDetector::new();
            ingest(
                &input,
                &mut state,
                &mut detector,
                &Hints::default(),
                Instant::now(),
                &mut tally,
            );
            assert!(
                tally.skipped_bytes <= input.len() as u64,
                "{name}: {tally:?}"
            );
            assert!(tally.ignored_frames <= tally.frames, "{name}: {tally:?}");
            // The same bytes arriving as a TCP or serial stream, in pieces
            // of a size the input itself picks, are read and refused alike.
            let piece = 1 + usize::from(input.first().copied().unwrap_or(0) % 23);
            let mut streamed = InputTally::default();
            let mut scanner = StreamScanner::new();
            let mut frames = Vec::new();
            for chunk in input.chunks(piece) {
                frames.extend(scanner.push(chunk, &mut streamed, |_| true));
            }
            frames.extend(scanner.finish(&mut streamed, |_| true));
            let mut whole = InputTally::default();
            let expected = read_frames(&input, &mut whole);
            assert_eq!(streamed, whole, "{name} in pieces of {piece}");
            assert_eq!(frames.len(), expected.len(), "{name} in pieces of {piece}");
            totals.frames += tally.frames;
            totals.skipped_bytes += tally.skipped_bytes;
        }
    }
    assert!(
        totals.frames > 1000 && totals.skipped_bytes > 1000,
        "{totals:?}"
    );
}

#[test]
fn the_mavlink_corpus_means_what_its_names_say() {
    let files: std::collections::HashMap<String, Vec<u8>> = corpus("mavlink").into_iter().collect();
    let run = |name: &str| {
        let mut tally = InputTally::default();
        let mut state = VehicleState::default();
        let mut detector = EventDetector::new();
        let events = ingest(
            &files[name],
            &mut state,
            &mut detector,
            &Hints::default(),
            Instant::now(),
            &mut tally,
        );
        (state, events, tally)
    };
    let (state, _, _) = run("px4_heartbeat.hex");
    assert_eq!(state.autopilot.map(|t| t.kind.name()), Some("px4"));
    let (_, events, _) = run("ardupilot_progress.hex");
    assert_eq!(
        events,
        [EventBody::MissionItemReached { seq: 0, total: 3 }],
        "ArduPilot item 1 is the dispatcher's item 0"
    );
    let (_, events, _) = run("px4_flight.hex");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EventBody::FenceBreached { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EventBody::Failsafe { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EventBody::ImageCaptured(_))),
        "{events:?}"
    );
    let (_, _, tally) = run("noise_between_frames.hex");
    // b"\xfd\x00garbage\xfe\xff" (11 bytes) and 7 zero bytes around 2 frames.
    assert_eq!((tally.frames, tally.skipped_bytes), (2, 18));
    let (_, _, tally) = run("truncated_frame.hex");
    assert_eq!(tally.frames, 1);
    assert!(tally.skipped_bytes > 0);
    let (_, events, tally) = run("status_text_chunks.hex");
    // Chunk 1 of text 7, a one-part text, then chunk 0 of text 7.
    let texts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            EventBody::StatusText {
                text, incomplete, ..
            } => Some((text.as_str(), *incomplete)),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("Takeoff detected", false),
            (
                "Failsafe enabled: no RC and no offboard; returning to launch at 30 m above home",
                false
            )
        ]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, EventBody::Failsafe { .. })));
    assert_eq!((tally.frames, tally.skipped_bytes), (4, 0));
    let (state, _, _) = run("mavlink1_heartbeat.hex");
    assert_eq!(state.autopilot.map(|t| t.kind.name()), Some("px4"));
}
