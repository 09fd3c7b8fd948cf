//! Reassembling long STATUSTEXT messages. A text longer than one message's
//! 50 bytes is sent as chunks sharing a non-zero `id`, numbered by
//! `chunk_seq` from 0; the chunk holding a NUL (shorter than 50 bytes) is
//! the last. Chunks can arrive out of order or not at all, so a text whose
//! chunks stop coming is given out after [`REASSEMBLY_TIMEOUT`] with what
//! arrived, marked incomplete.
//!
//! Pure (time is passed in) and bounded: at most [`MAX_TEXTS_IN_PROGRESS`]
//! texts of at most [`MAX_CHUNKS`] chunks are held, whatever the autopilot
//! (or a corrupt link) sends.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Bytes of text in one STATUSTEXT.
pub const CHUNK_LEN: usize = 50;
/// Chunks are sent back to back; a text still missing some this long after
/// its first chunk arrived is given out as it is.
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Texts being reassembled at once; a further one pushes out the oldest.
pub const MAX_TEXTS_IN_PROGRESS: usize = 8;
/// Chunks kept per text (1600 bytes): PX4 and ArduPilot send a few at most;
/// chunks beyond this are dropped and the text marked incomplete.
pub const MAX_CHUNKS: usize = 32;
/// Finished ids remembered for the timeout, so a repeated chunk of a text
/// already given out does not start a second, partial copy of it.
const REMEMBERED_FINISHED: usize = 16;

/// Stands in for chunks that never arrived.
const GAP: &str = "…";

/// One status text, whole or as much of it as arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText {
    /// MAV_SEVERITY: 0 (emergency) to 7 (debug).
    pub severity: u8,
    pub text: String,
    /// Some chunks never arrived (or were beyond [`MAX_CHUNKS`]).
    pub incomplete: bool,
}

#[derive(Debug)]
struct Partial {
    id: u16,
    severity: u8,
    first_seen: Instant,
    /// Raw bytes per chunk: a UTF-8 character may straddle two chunks.
    chunks: BTreeMap<u8, Vec<u8>>,
    /// The chunk that ended the text, once it arrived.
    last_seq: Option<u8>,
    /// Chunks were dropped for exceeding [`MAX_CHUNKS`].
    truncated: bool,
}

impl Partial {
    fn is_complete(&self) -> bool {
        let Some(last) = self.last_seq else {
            return false;
        };
        let needed = usize::from(last).min(MAX_CHUNKS - 1);
        (0..=needed).all(|seq| self.chunks.contains_key(&(seq as u8)))
    }

    /// The text as far as it arrived, with `…` where chunks are missing.
    fn assemble(self) -> StatusText {
        let end = match self.last_seq {
            Some(last) => usize::from(last).min(MAX_CHUNKS - 1),
            None => self
                .chunks
                .keys()
                .next_back()
                .map_or(0, |&seq| usize::from(seq)),
        };
        let mut bytes = Vec::with_capacity((end + 1) * CHUNK_LEN);
        let mut incomplete = self.truncated;
        for seq in 0..=end {
            match self.chunks.get(&(seq as u8)) {
                Some(chunk) => bytes.extend_from_slice(chunk),
                None => {
                    bytes.extend_from_slice(GAP.as_bytes());
                    incomplete = true;
                }
            }
        }
        if self.last_seq.is_none() {
            // The end never came: say so after what did.
            bytes.extend_from_slice(GAP.as_bytes());
            incomplete = true;
        }
        StatusText {
            severity: self.severity,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            incomplete,
        }
    }
}

#[derive(Debug, Default)]
pub struct StatusTextAssembler {
    in_progress: Vec<Partial>,
    finished: VecDeque<(u16, Instant)>,
}

impl StatusTextAssembler {
    pub fn new() -> Self {
        StatusTextAssembler::default()
    }

    /// Takes one STATUSTEXT; returns the texts it completes (or pushes out
    /// to stay within bounds). Empty texts are not given out.
    pub fn push(
        &mut self,
        severity: u8,
        id: u16,
        chunk_seq: u8,
        text: &[u8],
        now: Instant,
    ) -> Vec<StatusText> {
        let text = &text[..text.len().min(CHUNK_LEN)];
        let nul = text.iter().position(|&b| b == 0);
        let content = &text[..nul.unwrap_or(text.len())];
        // Id 0: a text in one message, as every autopilot sends short ones.
        if id == 0 {
            return whole(severity, content);
        }
        self.forget_finished(now);
        if self.finished.iter().any(|&(done, _)| done == id) {
            tracing::debug!(id, chunk_seq, "chunk of a status text already given out");
            return Vec::new();
        }
        let mut out = Vec::new();
        let index = match self.in_progress.iter().position(|p| p.id == id) {
            Some(index) => index,
            None => {
                if self.in_progress.len() == MAX_TEXTS_IN_PROGRESS {
                    let oldest = self.in_progress.remove(0);
                    tracing::debug!(
                        id = oldest.id,
                        "too many status texts in progress; giving out the oldest"
                    );
                    out.extend(self.give_out(oldest, now));
                }
                self.in_progress.push(Partial {
                    id,
                    severity,
                    first_seen: now,
                    chunks: BTreeMap::new(),
                    last_seq: None,
                    truncated: false,
                });
                self.in_progress.len() - 1
            }
        };
        let partial = &mut self.in_progress[index];
        if usize::from(chunk_seq) >= MAX_CHUNKS {
            partial.truncated = true;
        } else {
            partial
                .chunks
                .entry(chunk_seq)
                .or_insert_with(|| content.to_vec());
        }
        if nul.is_some() && partial.last_seq.is_none() {
            partial.last_seq = Some(chunk_seq);
        }
        if partial.is_complete() {
            let done = self.in_progress.remove(index);
            out.extend(self.give_out(done, now));
        }
        out
    }

    /// Gives out, marked incomplete, the texts whose chunks stopped coming.
    pub fn expire(&mut self, now: Instant) -> Vec<StatusText> {
        let mut out = Vec::new();
        let mut index = 0;
        while index < self.in_progress.len() {
            if now.saturating_duration_since(self.in_progress[index].first_seen)
                >= REASSEMBLY_TIMEOUT
            {
                let stale = self.in_progress.remove(index);
                tracing::debug!(
                    id = stale.id,
                    chunks = stale.chunks.len(),
                    "status text chunks missing; giving out what arrived"
                );
                out.extend(self.give_out(stale, now));
            } else {
                index += 1;
            }
        }
        self.forget_finished(now);
        out
    }

    /// Texts being reassembled now.
    pub fn in_progress(&self) -> usize {
        self.in_progress.len()
    }

    fn give_out(&mut self, partial: Partial, now: Instant) -> Option<StatusText> {
        if self.finished.len() == REMEMBERED_FINISHED {
            self.finished.pop_front();
        }
        self.finished.push_back((partial.id, now));
        let assembled = partial.assemble();
        (!assembled.text.is_empty()).then_some(assembled)
    }

    fn forget_finished(&mut self, now: Instant) {
        while self
            .finished
            .front()
            .is_some_and(|&(_, at)| now.saturating_duration_since(at) >= REASSEMBLY_TIMEOUT)
        {
            self.finished.pop_front();
        }
    }
}

fn whole(severity: u8, content: &[u8]) -> Vec<StatusText> {
    if content.is_empty() {
        return Vec::new();
    }
    vec![StatusText {
        severity,
        text: String::from_utf8_lossy(content).into_owned(),
        incomplete: false,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks an autopilot sends for `text`: 50 bytes each, the last
    /// NUL-padded (an extra empty one when the text fills its last chunk).
    fn chunks(text: &str) -> Vec<[u8; CHUNK_LEN]> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        for seq in 0..=bytes.len() / CHUNK_LEN {
            let mut chunk = [0u8; CHUNK_LEN];
            let start = seq * CHUNK_LEN;
            let end = (start + CHUNK_LEN).min(bytes.len());
            chunk[..end - start].copy_from_slice(&bytes[start..end]);
            out.push(chunk);
        }
        out
    }

    const LONG: &str = "PreArm: Gyros inconsistent by more than the allowed limit; \
                        recalibrate the IMUs on a level surface before arming again";

    fn complete(text: &str) -> StatusText {
        StatusText {
            severity: 4,
            text: text.into(),
            incomplete: false,
        }
    }

    #[test]
    fn a_short_text_is_given_out_at_once() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        assert_eq!(
            assembler.push(4, 0, 0, &chunks("Takeoff detected")[0], now),
            [complete("Takeoff detected")]
        );
        assert_eq!(assembler.push(4, 0, 0, &[0u8; CHUNK_LEN], now), []);
        assert_eq!(assembler.in_progress(), 0);
    }

    #[test]
    fn chunks_in_order_make_one_text() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let parts = chunks(LONG);
        assert_eq!(parts.len(), 3);
        assert_eq!(assembler.push(4, 7, 0, &parts[0], now), []);
        assert_eq!(assembler.push(4, 7, 1, &parts[1], now), []);
        assert_eq!(assembler.push(4, 7, 2, &parts[2], now), [complete(LONG)]);
        assert_eq!(assembler.in_progress(), 0);
        // A repeated chunk of the finished text is not a second text.
        assert_eq!(assembler.push(4, 7, 1, &parts[1], now), []);
        assert_eq!(assembler.expire(now + REASSEMBLY_TIMEOUT), []);
    }

    #[test]
    fn chunks_out_of_order_make_one_text() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let parts = chunks(LONG);
        assert_eq!(assembler.push(4, 9, 2, &parts[2], now), []);
        assert_eq!(assembler.push(4, 9, 0, &parts[0], now), []);
        assert_eq!(assembler.push(4, 9, 1, &parts[1], now), [complete(LONG)]);
    }

    #[test]
    fn a_text_filling_whole_chunks_ends_with_an_empty_one() {
        let text = "x".repeat(2 * CHUNK_LEN);
        let parts = chunks(&text);
        assert_eq!(parts.len(), 3);
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let mut out = Vec::new();
        for (seq, part) in parts.iter().enumerate() {
            out.extend(assembler.push(4, 3, seq as u8, part, now));
        }
        assert_eq!(out, [complete(&text)]);
    }

    #[test]
    fn a_lost_middle_chunk_gives_out_the_rest_marked_incomplete_after_the_timeout() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let parts = chunks(LONG);
        assembler.push(4, 5, 0, &parts[0], now);
        assembler.push(4, 5, 2, &parts[2], now);
        assert_eq!(
            assembler.expire(now + REASSEMBLY_TIMEOUT / 2),
            [],
            "still waiting"
        );
        let given = assembler.expire(now + REASSEMBLY_TIMEOUT);
        let expected = format!("{}…{}", &LONG[..CHUNK_LEN], &LONG[2 * CHUNK_LEN..]);
        assert_eq!(
            given,
            [StatusText {
                severity: 4,
                text: expected,
                incomplete: true
            }]
        );
        assert_eq!(assembler.in_progress(), 0);
        // The lost chunk turning up late does not start a new text.
        assert_eq!(
            assembler.push(4, 5, 1, &parts[1], now + REASSEMBLY_TIMEOUT),
            []
        );
        assert_eq!(assembler.expire(now + 3 * REASSEMBLY_TIMEOUT), []);
    }

    #[test]
    fn a_lost_last_chunk_is_shown_as_a_gap_at_the_end() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let parts = chunks(LONG);
        assembler.push(4, 5, 0, &parts[0], now);
        assembler.push(4, 5, 1, &parts[1], now);
        let [given] = assembler
            .expire(now + REASSEMBLY_TIMEOUT)
            .try_into()
            .unwrap();
        assert!(given.incomplete);
        assert_eq!(given.text, format!("{}…", &LONG[..2 * CHUNK_LEN]));
    }

    #[test]
    fn interleaved_texts_are_kept_apart() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let other = "Mission: 4 waypoints uploaded and checked against the fence, ready";
        let (a, b) = (chunks(LONG), chunks(other));
        let mut out = Vec::new();
        out.extend(assembler.push(4, 1, 0, &a[0], now));
        out.extend(assembler.push(6, 2, 0, &b[0], now));
        out.extend(assembler.push(4, 1, 1, &a[1], now));
        out.extend(assembler.push(6, 2, 1, &b[1], now));
        assert_eq!(assembler.in_progress(), 1);
        out.extend(assembler.push(4, 1, 2, &a[2], now));
        assert_eq!(
            out,
            [
                StatusText {
                    severity: 6,
                    text: other.into(),
                    incomplete: false
                },
                complete(LONG)
            ]
        );
    }

    #[test]
    fn a_character_split_between_chunks_survives() {
        let text = format!("{}é and more", "a".repeat(CHUNK_LEN - 1));
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let parts = chunks(&text);
        assembler.push(4, 8, 0, &parts[0], now);
        assert_eq!(assembler.push(4, 8, 1, &parts[1], now), [complete(&text)]);
    }

    #[test]
    fn memory_stays_bounded_whatever_arrives() {
        let mut assembler = StatusTextAssembler::new();
        let now = Instant::now();
        let full = [b'z'; CHUNK_LEN];
        let mut given = Vec::new();
        // Many ids, each with many full chunks and no end.
        for id in 1..=100u16 {
            for seq in 0..=u8::MAX {
                given.extend(assembler.push(4, id, seq, &full, now));
            }
            assert!(assembler.in_progress() <= MAX_TEXTS_IN_PROGRESS);
            let held: usize = assembler
                .in_progress
                .iter()
                .map(|p| p.chunks.values().map(Vec::len).sum::<usize>())
                .sum();
            assert!(held <= MAX_TEXTS_IN_PROGRESS * MAX_CHUNKS * CHUNK_LEN);
        }
        // The ones pushed out were given out, truncated and marked so.
        assert_eq!(given.len(), 100 - MAX_TEXTS_IN_PROGRESS);
        assert!(given.iter().all(|text| text.incomplete));
        assert!(given[0].text.len() <= MAX_CHUNKS * CHUNK_LEN + 2 * GAP.len());
        assert_eq!(
            assembler.expire(now + REASSEMBLY_TIMEOUT).len(),
            MAX_TEXTS_IN_PROGRESS
        );
    }
}
