//! A 6S LiPo flight battery and the dock charger.
//!
//! The model is deliberately simple but monotone and physically plausible:
//! charge is integrated from the electrical power the airframe draws, the
//! open-circuit voltage follows a typical LiPo discharge curve, and the
//! terminal voltage sags with current through the pack's internal resistance.

pub const CELL_COUNT: usize = 6;
pub const CAPACITY_MAH: f64 = 5200.0;
/// Internal resistance of a full pack; gives ~0.4 V sag at hover current.
const INTERNAL_RESISTANCE_OHM: f64 = 0.035;
/// A LiPo's resistance rises as it empties: three times the full value when flat.
const EMPTY_RESISTANCE_FACTOR: f64 = 3.0;
/// The dock charges an empty pack to full in this much (simulated) time.
pub const FULL_CHARGE_DURATION_S: f64 = 30.0 * 60.0;

/// (state of charge, open-circuit cell voltage) for a typical LiPo.
const CELL_DISCHARGE_CURVE: [(f64, f64); 8] = [
    (0.00, 3.30),
    (0.05, 3.50),
    (0.10, 3.60),
    (0.20, 3.70),
    (0.50, 3.82),
    (0.80, 3.97),
    (0.95, 4.12),
    (1.00, 4.20),
];

/// Below these fractions PX4 reports LOW / CRITICAL / EMERGENCY.
pub const LOW_FRACTION: f64 = 0.20;
pub const CRITICAL_FRACTION: f64 = 0.10;
pub const EMERGENCY_FRACTION: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeState {
    Ok,
    Low,
    Critical,
    Emergency,
    Charging,
}

#[derive(Debug, Clone)]
pub struct Battery {
    /// 0.0 (empty) ..= 1.0 (full).
    state_of_charge: f64,
    /// Since boot, for BATTERY_STATUS.current_consumed / energy_consumed.
    consumed_mah: f64,
    consumed_wh: f64,
    current_a: f64,
    charging: bool,
}

impl Default for Battery {
    fn default() -> Self {
        Battery::with_fraction(1.0)
    }
}

impl Battery {
    pub fn with_fraction(state_of_charge: f64) -> Self {
        Battery {
            state_of_charge: state_of_charge.clamp(0.0, 1.0),
            consumed_mah: 0.0,
            consumed_wh: 0.0,
            current_a: 0.0,
            charging: false,
        }
    }

    /// Draw `power_w` from the pack for `dt_s` seconds of simulated time.
    pub fn discharge(&mut self, power_w: f64, dt_s: f64) {
        self.charging = false;
        let power_w = power_w.max(0.0);
        // The current depends on the sagged voltage, which depends on the current;
        // one fixed-point iteration from the open-circuit voltage is plenty.
        let open_circuit_v = self.open_circuit_voltage_v();
        let first_guess_a = power_w / open_circuit_v;
        let current_a = power_w / (open_circuit_v - first_guess_a * self.resistance_ohm()).max(1.0);
        let used_mah = current_a * 1000.0 * dt_s / 3600.0;
        self.current_a = current_a;
        self.consumed_mah += used_mah;
        self.consumed_wh += power_w * dt_s / 3600.0;
        self.state_of_charge = (self.state_of_charge - used_mah / CAPACITY_MAH).max(0.0);
    }

    /// Charge on the dock for `dt_s` seconds of simulated time.
    pub fn charge(&mut self, dt_s: f64) {
        self.current_a = 0.0;
        self.charging = self.state_of_charge < 1.0;
        self.state_of_charge = (self.state_of_charge + dt_s / FULL_CHARGE_DURATION_S).min(1.0);
    }

    /// Neither drawing nor charging (disarmed away from the dock).
    pub fn rest(&mut self) {
        self.current_a = 0.0;
        self.charging = false;
    }

    pub fn fraction(&self) -> f64 {
        self.state_of_charge
    }

    /// Percent as MAVLink reports it (0..=100).
    pub fn remaining_percent(&self) -> i8 {
        (self.state_of_charge * 100.0).round().clamp(0.0, 100.0) as i8
    }

    pub fn open_circuit_voltage_v(&self) -> f64 {
        cell_open_circuit_voltage_v(self.state_of_charge) * CELL_COUNT as f64
    }

    /// Terminal voltage under the present load.
    pub fn voltage_v(&self) -> f64 {
        self.open_circuit_voltage_v() - self.current_a * self.resistance_ohm()
    }

    /// Pack resistance at the present charge (sag grows as the pack empties).
    pub fn resistance_ohm(&self) -> f64 {
        let empty = 1.0 - self.state_of_charge;
        INTERNAL_RESISTANCE_OHM * (1.0 + (EMPTY_RESISTANCE_FACTOR - 1.0) * empty * empty)
    }

    /// A failed cell: the usable charge drops to `fraction` at once (never rises).
    pub fn fail_to(&mut self, fraction: f64) {
        self.state_of_charge = self.state_of_charge.min(fraction.clamp(0.0, 1.0));
    }

    pub fn cell_voltage_v(&self) -> f64 {
        self.voltage_v() / CELL_COUNT as f64
    }

    pub fn current_a(&self) -> f64 {
        self.current_a
    }

    pub fn consumed_mah(&self) -> f64 {
        self.consumed_mah
    }

    pub fn consumed_wh(&self) -> f64 {
        self.consumed_wh
    }

    /// Seconds until empty at the present current; `None` when not discharging.
    pub fn time_remaining_s(&self) -> Option<f64> {
        if self.current_a <= 0.01 {
            return None;
        }
        let remaining_mah = self.state_of_charge * CAPACITY_MAH;
        Some(remaining_mah / (self.current_a * 1000.0) * 3600.0)
    }

    pub fn charge_state(&self) -> ChargeState {
        if self.charging {
            ChargeState::Charging
        } else if self.state_of_charge < EMERGENCY_FRACTION {
            ChargeState::Emergency
        } else if self.state_of_charge < CRITICAL_FRACTION {
            ChargeState::Critical
        } else if self.state_of_charge < LOW_FRACTION {
            ChargeState::Low
        } else {
            ChargeState::Ok
        }
    }
}

fn cell_open_circuit_voltage_v(state_of_charge: f64) -> f64 {
    let soc = state_of_charge.clamp(0.0, 1.0);
    for pair in CELL_DISCHARGE_CURVE.windows(2) {
        let (soc_lo, v_lo) = pair[0];
        let (soc_hi, v_hi) = pair[1];
        if soc <= soc_hi {
            return v_lo + (v_hi - v_lo) * (soc - soc_lo) / (soc_hi - soc_lo);
        }
    }
    CELL_DISCHARGE_CURVE[CELL_DISCHARGE_CURVE.len() - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_pack_reads_25_2_volts_at_rest() {
        let battery = Battery::default();
        assert!((battery.voltage_v() - 25.2).abs() < 1e-9);
        assert_eq!(battery.remaining_percent(), 100);
        assert_eq!(battery.charge_state(), ChargeState::Ok);
        assert_eq!(battery.time_remaining_s(), None);
    }

    #[test]
    fn hover_lasts_roughly_twenty_five_minutes() {
        let mut battery = Battery::default();
        let mut elapsed_s = 0.0;
        while battery.fraction() > 0.0 && elapsed_s < 3600.0 {
            battery.discharge(250.0, 1.0);
            elapsed_s += 1.0;
        }
        assert!(
            (1500.0..2100.0).contains(&elapsed_s),
            "hover endurance {elapsed_s} s"
        );
        assert!(battery.consumed_mah() >= CAPACITY_MAH * 0.99);
    }

    #[test]
    fn voltage_sags_under_load_and_falls_with_charge() {
        let mut battery = Battery::default();
        let rest_v = battery.voltage_v();
        battery.discharge(300.0, 0.1);
        assert!(battery.voltage_v() < rest_v - 0.2, "sag expected");
        let loaded_full_v = battery.voltage_v();
        for _ in 0..600 {
            battery.discharge(300.0, 1.0);
        }
        assert!(battery.voltage_v() < loaded_full_v);
        assert!(battery.remaining_percent() < 100);
        let time_remaining_s = battery.time_remaining_s().expect("discharging");
        assert!(time_remaining_s > 0.0);
    }

    #[test]
    fn the_same_load_sags_more_on_an_emptier_pack() {
        let mut full = Battery::default();
        let mut low = Battery::with_fraction(0.2);
        full.discharge(300.0, 0.02);
        low.discharge(300.0, 0.02);
        let sag = |b: &Battery| b.open_circuit_voltage_v() - b.voltage_v();
        assert!(
            sag(&low) > sag(&full) * 1.5,
            "{} vs {}",
            sag(&low),
            sag(&full)
        );
        low.fail_to(0.05);
        assert_eq!(low.remaining_percent(), 5);
        low.fail_to(0.5);
        assert_eq!(low.remaining_percent(), 5, "a fault never adds charge");
    }

    #[test]
    fn charge_states_follow_px4_thresholds() {
        assert_eq!(
            Battery::with_fraction(0.15).charge_state(),
            ChargeState::Low
        );
        assert_eq!(
            Battery::with_fraction(0.08).charge_state(),
            ChargeState::Critical
        );
        assert_eq!(
            Battery::with_fraction(0.02).charge_state(),
            ChargeState::Emergency
        );
    }

    #[test]
    fn dock_charges_an_empty_pack_in_thirty_minutes() {
        let mut battery = Battery::with_fraction(0.0);
        battery.charge(FULL_CHARGE_DURATION_S / 2.0);
        assert_eq!(battery.remaining_percent(), 50);
        assert_eq!(battery.charge_state(), ChargeState::Charging);
        battery.charge(FULL_CHARGE_DURATION_S / 2.0);
        assert_eq!(battery.remaining_percent(), 100);
        battery.charge(1.0);
        assert_eq!(battery.charge_state(), ChargeState::Ok);
    }
}
