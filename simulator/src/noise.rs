//! Seeded randomness for wind gusts, GPS noise and lossy links. A small
//! self-contained generator (SplitMix64) so that a seed gives the same flight
//! on every platform and with every version of external crates.

/// SplitMix64: fast, statistically good enough for simulation noise.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent stream for one vehicle (or one purpose) of a seeded run.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut mixer = Rng::new(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407));
        Rng::new(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// First-order Gauss-Markov process: correlated noise with standard deviation
/// `sigma` and correlation time `tau_s`, as GPS errors and gusts behave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussMarkov {
    pub value: f64,
    pub sigma: f64,
    pub tau_s: f64,
}

impl GaussMarkov {
    pub fn new(sigma: f64, tau_s: f64) -> Self {
        GaussMarkov {
            value: 0.0,
            sigma,
            tau_s,
        }
    }

    pub fn step(&mut self, dt_s: f64, rng: &mut Rng) -> f64 {
        if self.sigma <= 0.0 {
            self.value = 0.0;
            return 0.0;
        }
        let decay = (-dt_s / self.tau_s.max(1e-3)).exp();
        self.value = self.value * decay + self.sigma * (1.0 - decay * decay).sqrt() * rng.normal();
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_different_streams_differ() {
        let mut a = Rng::derive(7, 1);
        let mut b = Rng::derive(7, 1);
        let mut c = Rng::derive(7, 2);
        let first: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn gauss_markov_keeps_its_standard_deviation() {
        let mut rng = Rng::new(42);
        let mut process = GaussMarkov::new(2.0, 5.0);
        let samples: Vec<f64> = (0..200_000).map(|_| process.step(0.05, &mut rng)).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let variance =
            samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 0.3, "mean {mean}");
        assert!(
            (variance.sqrt() - 2.0).abs() < 0.3,
            "sigma {}",
            variance.sqrt()
        );
    }
}
