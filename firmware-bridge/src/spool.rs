//! The outbox's copy on disk, so that events and replies waiting for the
//! broker survive a bridge restart (a crash, a reboot of the companion
//! computer, an update).
//!
//! Two files in the spool directory, named after the drone:
//! - `{drone}.outbox`: an append-only log of records, one per queued event
//!   or reply, in queue order;
//! - `{drone}.acked`: the acknowledged watermark, the highest queue position
//!   up to which every record has been delivered (or dropped for space).
//!
//! On start the log is read back and every record above the watermark is
//! queued again, in order, under its original queue position. Events keep
//! their ids, so a record that was delivered but whose acknowledgement did
//! not reach the watermark file is merely sent twice and the dispatcher
//! drops the repeat.
//!
//! Record layout (little-endian): `len u32 | check u32 | order u64 | kind u8
//! | topic_len u16 | topic | payload`, where `len` counts the bytes after the
//! `check` field and `check` is FNV-1a over them. A torn or corrupt tail (the
//! power went mid-write) ends the log there: it is cut off, logged and
//! counted, and everything before it is kept.
//!
//! The log is cut back to empty whenever nothing is pending, and rewritten
//! with only the pending records when it grows well beyond them, so it stays
//! bounded by the outbox's capacity.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bytes before a record's checked body: `len` and `check`.
const RECORD_HEADER: usize = 8;
/// `order`, `kind`, `topic_len`.
const BODY_FIXED: usize = 8 + 1 + 2;
/// Rewrite the log once it is this much larger than its pending records.
const REWRITE_SLACK_BYTES: u64 = 4 << 20;
/// No record is larger than an MQTT packet the bridge would send.
const MAX_RECORD_BYTES: usize = 2 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpooledKind {
    Event,
    Reply,
}

impl SpooledKind {
    fn byte(self) -> u8 {
        match self {
            SpooledKind::Event => 1,
            SpooledKind::Reply => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(SpooledKind::Event),
            2 => Some(SpooledKind::Reply),
            _ => None,
        }
    }
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledMessage {
    pub order: u64,
    pub kind: SpooledKind,
    pub topic: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("outbox spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What opening a spool found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Records not yet delivered, in queue order.
    pub pending: Vec<SpooledMessage>,
    /// Highest queue position ever written (0 for a fresh spool): new
    /// messages must be numbered above it.
    pub last_order: u64,
    /// Bytes cut from the end of the log because they did not form a whole,
    /// intact record.
    pub discarded_tail_bytes: u64,
}

#[derive(Debug)]
pub struct Spool {
    log_path: PathBuf,
    acked_path: PathBuf,
    log: File,
    log_len: u64,
    /// Every record delivered at or below this position.
    watermark: u64,
    /// Written records above the watermark: order -> (record bytes, done).
    pending: BTreeMap<u64, (u64, bool)>,
    pending_bytes: u64,
    write_failures: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool for `drone` in `dir` and reads
    /// back what an earlier run left undelivered.
    pub fn open(dir: &Path, drone: &str) -> Result<(Spool, Recovered), SpoolError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SpoolError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let log_path = dir.join(format!("{drone}.outbox"));
        let acked_path = dir.join(format!("{drone}.acked"));
        let watermark = read_watermark(&acked_path);

        let mut bytes = Vec::new();
        if log_path.exists() {
            File::open(&log_path)
                .and_then(|mut file| file.read_to_end(&mut bytes))
                .map_err(io(&log_path))?;
        }
        let (records, intact_len) = parse_log(&bytes);
        let mut recovered = Recovered {
            discarded_tail_bytes: (bytes.len() - intact_len) as u64,
            last_order: watermark,
            ..Recovered::default()
        };
        let mut pending = BTreeMap::new();
        let mut pending_bytes = 0;
        for (record, record_len) in records {
            recovered.last_order = recovered.last_order.max(record.order);
            if record.order > watermark {
                pending.insert(record.order, (record_len, false));
                pending_bytes += record_len;
                recovered.pending.push(record);
            }
        }
        if recovered.discarded_tail_bytes > 0 {
            tracing::warn!(
                path = %log_path.display(),
                offset = intact_len,
                discarded_bytes = recovered.discarded_tail_bytes,
                "outbox spool ends in a torn or corrupt record; cut it off"
            );
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        log.set_len(intact_len as u64).map_err(io(&log_path))?;
        let mut spool = Spool {
            log_path,
            acked_path,
            log,
            log_len: intact_len as u64,
            watermark,
            pending,
            pending_bytes,
            write_failures: 0,
        };
        spool.compact();
        Ok((spool, recovered))
    }

    /// Appends a record and syncs it to the device: once this returns the
    /// message survives a crash or a power cut.
    pub fn append(&mut self, order: u64, kind: SpooledKind, topic: &str, payload: &[u8]) {
        let Some(record) = encode_record(order, kind, topic, payload) else {
            self.failed("record too large to spool", None);
            return;
        };
        let written = self
            .log
            .write_all(&record)
            .and_then(|()| self.log.sync_data());
        match written {
            Ok(()) => {
                self.log_len += record.len() as u64;
                self.pending.insert(order, (record.len() as u64, false));
                self.pending_bytes += record.len() as u64;
            }
            Err(error) => self.failed("cannot append to the outbox spool", Some(error)),
        }
    }

    /// The message at `order` was delivered (or dropped for space): it need
    /// not be sent after a restart.
    pub fn done(&mut self, order: u64) {
        let Some(entry) = self.pending.get_mut(&order) else {
            return;
        };
        entry.1 = true;
        let mut advanced = false;
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().1 {
                break;
            }
            let (order, (len, _)) = entry.remove_entry();
            self.pending_bytes -= len;
            self.watermark = order;
            advanced = true;
        }
        if advanced {
            self.write_watermark();
            self.compact();
        }
    }

    /// Records not yet delivered.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn write_failures(&self) -> u64 {
        self.write_failures
    }

    fn write_watermark(&mut self) {
        // Not synced: losing it to a power cut only means re-sending
        // messages the dispatcher will recognise as repeats.
        let temporary = self.acked_path.with_extension("acked.new");
        let written = std::fs::write(&temporary, self.watermark.to_string())
            .and_then(|()| std::fs::rename(&temporary, &self.acked_path));
        if let Err(error) = written {
            self.failed("cannot record the delivered watermark", Some(error));
        }
    }

    /// Keeps the log near the size of what is pending.
    fn compact(&mut self) {
        if self.pending.is_empty() {
            if self.log_len > 0 {
                match self.log.set_len(0) {
                    Ok(()) => self.log_len = 0,
                    Err(error) => self.failed("cannot empty the outbox spool", Some(error)),
                }
            }
            return;
        }
        if self.log_len > self.pending_bytes + REWRITE_SLACK_BYTES {
            if let Err(error) = self.rewrite() {
                self.failed("cannot rewrite the outbox spool", Some(error));
            }
        }
    }

    /// Copies the pending records into a fresh log and swaps it in.
    fn rewrite(&mut self) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        File::open(&self.log_path)?.read_to_end(&mut bytes)?;
        let (records, _) = parse_log(&bytes);
        let mut fresh = Vec::with_capacity(self.pending_bytes as usize);
        for (record, _) in records {
            if matches!(self.pending.get(&record.order), Some((_, false))) {
                if let Some(encoded) =
                    encode_record(record.order, record.kind, &record.topic, &record.payload)
                {
                    fresh.extend_from_slice(&encoded);
                }
            }
        }
        let temporary = self.log_path.with_extension("outbox.new");
        let mut file = File::create(&temporary)?;
        file.write_all(&fresh)?;
        file.sync_data()?;
        std::fs::rename(&temporary, &self.log_path)?;
        self.log = OpenOptions::new().append(true).open(&self.log_path)?;
        self.log_len = fresh.len() as u64;
        Ok(())
    }

    fn failed(&mut self, what: &str, error: Option<std::io::Error>) {
        self.write_failures += 1;
        tracing::warn!(
            path = %self.log_path.display(),
            error = ?error,
            failures_total = self.write_failures,
            "{what}; the message stays queued in memory only"
        );
    }
}

fn read_watermark(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            // Unreadable watermark: resend everything; repeats are harmless.
            tracing::warn!(path = %path.display(), "unreadable outbox watermark; resending the whole spool");
            0
        }),
        Err(_) => 0,
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

fn encode_record(order: u64, kind: SpooledKind, topic: &str, payload: &[u8]) -> Option<Vec<u8>> {
    let topic_len = u16::try_from(topic.len()).ok()?;
    let body_len = BODY_FIXED + topic.len() + payload.len();
    if body_len > MAX_RECORD_BYTES {
        return None;
    }
    let mut body = Vec::with_capacity(body_len);
    body.extend_from_slice(&order.to_le_bytes());
    body.push(kind.byte());
    body.extend_from_slice(&topic_len.to_le_bytes());
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    let mut record = Vec::with_capacity(RECORD_HEADER + body_len);
    record.extend_from_slice(&(body_len as u32).to_le_bytes());
    record.extend_from_slice(&fnv1a(&body).to_le_bytes());
    record.extend_from_slice(&body);
    Some(record)
}

/// Every whole, intact record (with its length in bytes) and the length of
/// the prefix they cover; parsing stops at the first damaged record.
fn parse_log(bytes: &[u8]) -> (Vec<(SpooledMessage, u64)>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = parse_record(&bytes[at..]) {
        records.push((record, len as u64));
        at += len;
    }
    (records, at)
}

fn parse_record(bytes: &[u8]) -> Option<(SpooledMessage, usize)> {
    let body_len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let check = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    if !(BODY_FIXED..=MAX_RECORD_BYTES).contains(&body_len) {
        return None;
    }
    let body = bytes.get(RECORD_HEADER..RECORD_HEADER + body_len)?;
    if fnv1a(body) != check {
        return None;
    }
    let order = u64::from_le_bytes(body[0..8].try_into().ok()?);
    let kind = SpooledKind::from_byte(body[8])?;
    let topic_len = usize::from(u16::from_le_bytes(body[9..11].try_into().ok()?));
    let topic = body.get(BODY_FIXED..BODY_FIXED + topic_len)?;
    let topic = String::from_utf8(topic.to_vec()).ok()?;
    let payload = body[BODY_FIXED + topic_len..].to_vec();
    Some((
        SpooledMessage {
            order,
            kind,
            topic,
            payload,
        },
        RECORD_HEADER + body_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "skyshare-spool-{name}-{}-{}",
                std::process::id(),
                crate::wall_clock_ms()
            ));
            let _ = std::fs::remove_dir_all(&path);
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn payloads(recovered: &Recovered) -> Vec<String> {
        recovered
            .pending
            .iter()
            .map(|m| String::from_utf8(m.payload.clone()).unwrap())
            .collect()
    }

    #[test]
    fn undelivered_messages_survive_a_reopen_in_order() {
        let dir = TempDir::new("reopen");
        let (mut spool, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert!(recovered.pending.is_empty());
        for (order, text) in [(1, "e1"), (2, "e2"), (3, "r3"), (4, "e4")] {
            let kind = if text.starts_with('r') {
                SpooledKind::Reply
            } else {
                SpooledKind::Event
            };
            spool.append(order, kind, "t/events", text.as_bytes());
        }
        spool.done(1);
        spool.done(3); // acked out of order: 2 still pending
        drop(spool);

        let (spool, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert_eq!(payloads(&recovered), ["e2", "r3", "e4"]);
        assert_eq!(recovered.pending[1].kind, SpooledKind::Reply);
        assert_eq!(recovered.last_order, 4);
        assert_eq!(spool.pending(), 3);
    }

    #[test]
    fn a_fully_delivered_log_is_emptied_and_numbering_continues() {
        let dir = TempDir::new("empty");
        let (mut spool, _) = Spool::open(&dir.0, "d1").unwrap();
        spool.append(1, SpooledKind::Event, "t", b"e1");
        spool.append(2, SpooledKind::Event, "t", b"e2");
        spool.done(2);
        spool.done(1);
        assert_eq!(std::fs::metadata(dir.0.join("d1.outbox")).unwrap().len(), 0);
        drop(spool);
        let (_, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert!(recovered.pending.is_empty());
        assert_eq!(
            recovered.last_order, 2,
            "new messages must sort after old ones"
        );
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_what_precedes_it_is_kept() {
        let dir = TempDir::new("torn");
        let (mut spool, _) = Spool::open(&dir.0, "d1").unwrap();
        spool.append(1, SpooledKind::Event, "t", b"e1");
        spool.append(2, SpooledKind::Event, "t", b"e2");
        drop(spool);
        let log = dir.0.join("d1.outbox");
        let mut bytes = std::fs::read(&log).unwrap();
        bytes.truncate(bytes.len() - 1); // the power went mid-write
        bytes.extend_from_slice(b"\xff\xff\xff\xff junk");
        std::fs::write(&log, &bytes).unwrap();

        let (mut spool, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert_eq!(payloads(&recovered), ["e1"]);
        assert!(recovered.discarded_tail_bytes > 0);
        // Appends after recovery land on the intact prefix.
        spool.append(3, SpooledKind::Event, "t", b"e3");
        drop(spool);
        let (_, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert_eq!(payloads(&recovered), ["e1", "e3"]);
        assert_eq!(recovered.discarded_tail_bytes, 0);
    }

    #[test]
    fn a_flipped_bit_inside_a_record_is_detected() {
        let record = encode_record(7, SpooledKind::Event, "topic", b"payload").unwrap();
        assert!(parse_record(&record).is_some());
        for at in 0..record.len() {
            let mut damaged = record.clone();
            damaged[at] ^= 0x10;
            assert!(
                parse_record(&damaged).is_none(),
                "damage at byte {at} went unnoticed"
            );
        }
    }

    #[test]
    fn the_log_is_rewritten_when_it_outgrows_what_is_pending() {
        let dir = TempDir::new("rewrite");
        let (mut spool, _) = Spool::open(&dir.0, "d1").unwrap();
        let big = vec![b'x'; 64 * 1024];
        spool.append(1, SpooledKind::Event, "t", b"keep me");
        for order in 2..=80 {
            spool.append(order, SpooledKind::Event, "t", &big);
        }
        spool.append(81, SpooledKind::Event, "t", b"and me");
        for order in 2..=80 {
            spool.done(order);
        }
        // 1 still pending, so the watermark never moved: only a rewrite
        // can shrink the log.
        let before = std::fs::metadata(dir.0.join("d1.outbox")).unwrap().len();
        spool.done(1);
        let after = std::fs::metadata(dir.0.join("d1.outbox")).unwrap().len();
        assert!(before > 5_000_000, "{before}");
        assert!(after < 1_000, "{after}");
        drop(spool);
        let (_, recovered) = Spool::open(&dir.0, "d1").unwrap();
        assert_eq!(payloads(&recovered), ["and me"]);
    }
}
