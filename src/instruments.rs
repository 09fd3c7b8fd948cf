//! The dispatcher's own measurements for /metrics: telemetry messages
//! (in total, per drone, and the rate over the last seconds), how long
//! commands take from sending to the bridge's final answer, and how long
//! tasks wait in the queue before a drone is assigned. Counters only; the
//! Prometheus text is written by [`Instruments::render`]. No IO.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A Prometheus histogram with fixed upper bounds (seconds).
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative; summed when
    /// written), then above the last one.
    counts: Vec<AtomicU64>,
    /// Sum of observations in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: Duration) {
        let s = value.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(value.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The `_bucket`, `_sum` and `_count` lines, with `labels` (`k="v"`
    /// pairs, or empty) on each.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let total = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum:.6}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Messages per second over the last [`RATE_WINDOW_S`] whole seconds.
struct RateWindow {
    /// (second since start, messages in it), oldest first.
    seconds: VecDeque<(u64, u64)>,
}

const RATE_WINDOW_S: u64 = 10;

impl RateWindow {
    fn add(&mut self, second: u64) {
        match self.seconds.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| *s + RATE_WINDOW_S < second)
        {
            self.seconds.pop_front();
        }
    }

    /// The rate over the last full seconds before `second` (the current
    /// one is still filling).
    fn rate(&self, second: u64) -> f64 {
        let from = second.saturating_sub(RATE_WINDOW_S);
        let n: u64 = self
            .seconds
            .iter()
            .filter(|(s, _)| *s >= from && *s < second)
            .map(|(_, n)| n)
            .sum();
        let span = second.clamp(1, RATE_WINDOW_S);
        n as f64 / span as f64
    }
}

/// Upper bounds of command latency buckets, seconds: a mode change takes a
/// fraction of a second, a mission upload several.
const COMMAND_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Upper bounds of queue wait buckets, seconds.
const WAIT_BOUNDS: &[f64] = &[1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// Who sent a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOrigin {
    /// A pilot through the API.
    Pilot,
    /// The dispatcher itself (mission upload, start, recall).
    Dispatcher,
}

pub struct Instruments {
    started: Instant,
    telemetry_total: AtomicU64,
    telemetry_by_drone: Mutex<BTreeMap<String, u64>>,
    telemetry_rate: Mutex<RateWindow>,
    pilot_latency: Histogram,
    dispatcher_latency: Histogram,
    pilot_unanswered: AtomicU64,
    dispatcher_unanswered: AtomicU64,
    queue_wait: Histogram,
}

impl Default for Instruments {
    fn default() -> Self {
        Instruments {
            started: Instant::now(),
            telemetry_total: AtomicU64::new(0),
            telemetry_by_drone: Mutex::new(BTreeMap::new()),
            telemetry_rate: Mutex::new(RateWindow {
                seconds: VecDeque::new(),
            }),
            pilot_latency: Histogram::new(COMMAND_BOUNDS),
            dispatcher_latency: Histogram::new(COMMAND_BOUNDS),
            pilot_unanswered: AtomicU64::new(0),
            dispatcher_unanswered: AtomicU64::new(0),
            queue_wait: Histogram::new(WAIT_BOUNDS),
        }
    }
}

impl Instruments {
    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_secs()
    }

    /// One telemetry message from `drone`, received at `at`.
    pub fn telemetry(&self, drone: &str, at: Instant) {
        self.telemetry_total.fetch_add(1, Ordering::Relaxed);
        *self
            .telemetry_by_drone
            .lock()
            .expect("telemetry counts")
            .entry(drone.to_owned())
            .or_default() += 1;
        self.telemetry_rate
            .lock()
            .expect("telemetry rate")
            .add(self.second(at));
    }

    /// Telemetry messages per second, all drones together, over the last
    /// whole seconds before `at`.
    pub fn telemetry_rate(&self, at: Instant) -> f64 {
        self.telemetry_rate
            .lock()
            .expect("telemetry rate")
            .rate(self.second(at))
    }

    /// A command's final answer came `latency` after it was sent; None: no
    /// answer came in time.
    pub fn command_answered(&self, origin: CommandOrigin, latency: Option<Duration>) {
        let (histogram, unanswered) = match origin {
            CommandOrigin::Pilot => (&self.pilot_latency, &self.pilot_unanswered),
            CommandOrigin::Dispatcher => (&self.dispatcher_latency, &self.dispatcher_unanswered),
        };
        match latency {
            Some(latency) => histogram.observe(latency),
            None => {
                unanswered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A task waited `wait` in the queue from its submission until its first
    /// assignment to a drone.
    pub fn queue_wait(&self, wait: Duration) {
        self.queue_wait.observe(wait);
    }

    /// The Prometheus text of every instrument.
    pub fn render(&self, out: &mut String, now: Instant) {
        let _ = writeln!(out, "# HELP skyshare_telemetry_messages_total Telemetry messages received.\n# TYPE skyshare_telemetry_messages_total counter\nskyshare_telemetry_messages_total {}", self.telemetry_total.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP skyshare_drone_telemetry_messages_total Telemetry messages received, by drone.\n# TYPE skyshare_drone_telemetry_messages_total counter");
        for (drone, n) in self
            .telemetry_by_drone
            .lock()
            .expect("telemetry counts")
            .iter()
        {
            let _ = writeln!(
                out,
                "skyshare_drone_telemetry_messages_total{{drone=\"{}\"}} {n}",
                escape(drone)
            );
        }
        let _ = writeln!(out, "# HELP skyshare_telemetry_rate_per_second Telemetry messages per second, all drones, over the last {RATE_WINDOW_S} s.\n# TYPE skyshare_telemetry_rate_per_second gauge\nskyshare_telemetry_rate_per_second {:.3}", self.telemetry_rate(now));
        let _ = writeln!(out, "# HELP skyshare_command_latency_seconds From sending a command to the bridge's final answer, by who sent it.\n# TYPE skyshare_command_latency_seconds histogram");
        self.pilot_latency
            .write(out, "skyshare_command_latency_seconds", "origin=\"pilot\"");
        self.dispatcher_latency.write(
            out,
            "skyshare_command_latency_seconds",
            "origin=\"dispatcher\"",
        );
        let _ = writeln!(out, "# HELP skyshare_commands_unanswered_total Commands with no final answer within the reply limit.\n# TYPE skyshare_commands_unanswered_total counter");
        for (origin, n) in [
            ("pilot", &self.pilot_unanswered),
            ("dispatcher", &self.dispatcher_unanswered),
        ] {
            let _ = writeln!(
                out,
                "skyshare_commands_unanswered_total{{origin=\"{origin}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP skyshare_queue_wait_seconds From a task's submission to its first assignment to a drone.\n# TYPE skyshare_queue_wait_seconds histogram");
        self.queue_wait
            .write(out, "skyshare_queue_wait_seconds", "");
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(500));
        h.observe(Duration::from_secs(3));
        let mut out = String::new();
        h.write(&mut out, "x", "origin=\"pilot\"");
        assert!(
            out.contains("x_bucket{origin=\"pilot\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{origin=\"pilot\",le=\"1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{origin=\"pilot\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_sum{origin=\"pilot\"} 3.550000\n"), "{out}");
        assert!(out.contains("x_count{origin=\"pilot\"} 3\n"), "{out}");
        let mut bare = String::new();
        Histogram::new(&[1.0]).write(&mut bare, "y", "");
        assert!(
            bare.contains("y_bucket{le=\"+Inf\"} 0\n") && bare.contains("y_count 0\n"),
            "{bare}"
        );
    }

    #[test]
    fn the_telemetry_rate_counts_whole_seconds_of_the_last_ten() {
        let i = Instruments::default();
        let t0 = i.started;
        // 20 messages in each of the seconds 0..12.
        for s in 0..12 {
            for _ in 0..20 {
                i.telemetry("d1", t0 + Duration::from_secs(s));
            }
        }
        // In second 12 the last ten whole seconds (2..12) held 200.
        assert!((i.telemetry_rate(t0 + Duration::from_secs(12)) - 20.0).abs() < 1e-9);
        // Two seconds after the last message, 8 of the 10 seconds held 20.
        assert!((i.telemetry_rate(t0 + Duration::from_secs(14)) - 16.0).abs() < 1e-9);
        // Early on, the rate is over the seconds there have been.
        let fresh = Instruments::default();
        for _ in 0..10 {
            fresh.telemetry("d2", fresh.started);
        }
        assert!((fresh.telemetry_rate(fresh.started + Duration::from_secs(1)) - 10.0).abs() < 1e-9);
        let mut out = String::new();
        i.render(&mut out, t0 + Duration::from_secs(12));
        assert!(
            out.contains("skyshare_telemetry_messages_total 240\n"),
            "{out}"
        );
        assert!(
            out.contains("skyshare_drone_telemetry_messages_total{drone=\"d1\"} 240\n"),
            "{out}"
        );
        assert!(
            out.contains("skyshare_telemetry_rate_per_second 20.000\n"),
            "{out}"
        );
    }

    #[test]
    fn unanswered_commands_are_counted_apart_from_latencies() {
        let i = Instruments::default();
        i.command_answered(CommandOrigin::Pilot, Some(Duration::from_millis(300)));
        i.command_answered(CommandOrigin::Pilot, None);
        i.command_answered(CommandOrigin::Dispatcher, Some(Duration::from_secs(4)));
        let mut out = String::new();
        i.render(&mut out, Instant::now());
        assert!(
            out.contains("skyshare_command_latency_seconds_count{origin=\"pilot\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "skyshare_command_latency_seconds_bucket{origin=\"dispatcher\",le=\"2.5\"} 0\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "skyshare_command_latency_seconds_bucket{origin=\"dispatcher\",le=\"5\"} 1\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("skyshare_commands_unanswered_total{origin=\"pilot\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("skyshare_queue_wait_seconds_count 0\n"),
            "{out}"
        );
    }
}
