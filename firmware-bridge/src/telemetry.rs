//! Rate-limited telemetry: a snapshot of the vehicle state at `telemetry_hz`.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wire::Telemetry;

use crate::outbox::Outgoing;
use crate::vehicle_state::VehicleState;
use crate::wall_clock_ms;

/// The Telemetry payload for the current state; `None` until the autopilot
/// has reported a position (a sample at 0,0 would be worse than none).
pub fn sample(state: &VehicleState, drone: &str, ts_ms: i64) -> Option<Telemetry> {
    let fix = state.position?;
    Some(Telemetry {
        v: wire::VERSION,
        drone: drone.to_owned(),
        ts_ms,
        lat_deg: fix.lat_deg,
        lon_deg: fix.lon_deg,
        alt_msl_m: fix.alt_msl_m,
        alt_rel_m: fix.alt_rel_m,
        vel_north_mps: fix.vel_north_mps,
        vel_east_mps: fix.vel_east_mps,
        vel_down_mps: fix.vel_down_mps,
        heading_deg: fix.heading_deg,
        battery_pct: state.battery_pct,
        battery_v: state.battery_v,
        mode: state.mode,
        armed: state.armed,
        landed: state.landed,
        mission_seq: state.mission_seq,
        mission_total: state.mission_total,
    })
}

/// A raised telemetry rate, asked for with `set_telemetry_rate`, that
/// lapses at `until` (a pilot stops watching without saying so).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRequest {
    pub hz: f64,
    pub until: Instant,
}

/// The rate in force at `now`: the request while it lasts, else the base.
pub fn effective_rate(base_hz: f64, request: Option<RateRequest>, now: Instant) -> f64 {
    match request {
        Some(request) if now < request.until => request.hz,
        _ => base_hz,
    }
}

/// Publishes a sample at the effective rate while the autopilot is heard.
pub async fn publish_periodically(
    drone: String,
    base_hz: f64,
    vehicle: watch::Receiver<VehicleState>,
    mut requests: watch::Receiver<Option<RateRequest>>,
    outbox: mpsc::Sender<Outgoing>,
    shutdown: CancellationToken,
) {
    let mut rate_hz = base_hz;
    let mut ticks = ticker(rate_hz);
    loop {
        let request = *requests.borrow();
        let expiry = async {
            match request {
                Some(request) if Instant::now() < request.until => {
                    tokio::time::sleep_until(request.until).await
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = requests.changed() => {
                if changed.is_err() {
                    // The command runner is gone: keep the base rate.
                    requests = watch::channel(None).1;
                }
            }
            () = expiry => {}
            _ = ticks.tick() => {
                let sample = {
                    let state = vehicle.borrow();
                    // A stale position would look live; link loss is its own event.
                    if !state.link_up {
                        None
                    } else {
                        sample(&state, &drone, wall_clock_ms())
                    }
                };
                if let Some(sample) = sample {
                    // Full channel: this sample is dropped, the next replaces it.
                    let _ = outbox.try_send(Outgoing::Telemetry(sample));
                }
            }
        }
        let wanted = effective_rate(base_hz, *requests.borrow(), Instant::now());
        if wanted != rate_hz {
            tracing::info!(drone = %drone, from_hz = rate_hz, to_hz = wanted, "telemetry rate changed");
            rate_hz = wanted;
            ticks = ticker(rate_hz);
        }
    }
}

fn ticker(rate_hz: f64) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vehicle_state::PositionFix;

    #[test]
    fn a_raised_rate_lapses_back_to_the_base_rate() {
        let now = Instant::now();
        let request = RateRequest {
            hz: 10.0,
            until: now + Duration::from_secs(60),
        };
        assert_eq!(effective_rate(2.0, None, now), 2.0);
        assert_eq!(effective_rate(2.0, Some(request), now), 10.0);
        assert_eq!(
            effective_rate(2.0, Some(request), now + Duration::from_secs(61)),
            2.0
        );
    }

    #[test]
    fn no_sample_without_a_position() {
        assert_eq!(sample(&VehicleState::default(), "d1", 0), None);
        let state = VehicleState {
            position: Some(PositionFix {
                lat_deg: 30.5,
                lon_deg: 114.4,
                alt_msl_m: 50.0,
                alt_rel_m: 30.0,
                vel_north_mps: 1.0,
                vel_east_mps: 2.0,
                vel_down_mps: -0.5,
                heading_deg: Some(90.0),
            }),
            battery_pct: Some(80.0),
            ..VehicleState::default()
        };
        let sample = sample(&state, "d1", 42).unwrap();
        assert_eq!((sample.drone.as_str(), sample.ts_ms), ("d1", 42));
        assert_eq!(sample.alt_rel_m, 30.0);
        assert_eq!(sample.battery_pct, Some(80.0));
    }
}
