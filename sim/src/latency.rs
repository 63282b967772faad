//! Latency draws. Reproducible on every machine: uniform bits from the
//! pinned ChaCha stream, transcendental functions from `libm` (pure Rust, not
//! the platform's), the result rounded to integer nanoseconds and never
//! negative.

use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;

use crate::config::LatencyModel;

/// Uniform in `(0, 1]`: safe to take the logarithm of.
fn unit_open_zero(rng: &mut DetRng) -> f64 {
    1.0 - rng::unit_f64(rng)
}

/// One standard normal draw (Box–Muller; the second value is discarded so a
/// draw always consumes exactly two words).
fn standard_normal(rng: &mut DetRng) -> f64 {
    let radius = libm::sqrt(-2.0 * libm::log(unit_open_zero(rng)));
    let angle = 2.0 * std::f64::consts::PI * rng::unit_f64(rng);
    radius * libm::cos(angle)
}

/// Non-negative, rounded, saturating at `u64::MAX` (`as` saturates; NaN → 0).
fn to_ns(value: f64) -> TimeNs {
    if value <= 0.0 {
        0
    } else {
        libm::round(value) as TimeNs
    }
}

impl LatencyModel {
    /// One latency draw. The model must have passed `validate`.
    pub fn sample(&self, rng: &mut DetRng) -> TimeNs {
        match *self {
            LatencyModel::Constant { latency_ns } => latency_ns,
            LatencyModel::Uniform { min_ns, max_ns } => {
                let span = max_ns - min_ns;
                if span == u64::MAX {
                    rand_core::RngCore::next_u64(rng)
                } else {
                    min_ns + rng::below(rng, span + 1)
                }
            }
            LatencyModel::Normal {
                mean_ns,
                std_dev_ns,
            } => to_ns(mean_ns as f64 + std_dev_ns as f64 * standard_normal(rng)),
            LatencyModel::LogNormal {
                median_ns,
                sigma_milli,
            } => {
                let sigma = f64::from(sigma_milli) / 1000.0;
                to_ns(median_ns as f64 * libm::exp(sigma * standard_normal(rng)))
            }
            LatencyModel::Pareto {
                scale_ns,
                shape_milli,
            } => {
                assert!(shape_milli > 0, "pareto shape validated > 0");
                let shape = f64::from(shape_milli) / 1000.0;
                to_ns(scale_ns as f64 * libm::exp(-libm::log(unit_open_zero(rng)) / shape))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: usize = 200_000;

    fn moments(model: &LatencyModel) -> (f64, f64, Vec<u64>) {
        let mut rng = rng::stream(42, "latency-test", 0);
        let mut samples: Vec<u64> = (0..DRAWS).map(|_| model.sample(&mut rng)).collect();
        let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / DRAWS as f64;
        let variance = samples
            .iter()
            .map(|&s| (s as f64 - mean).powi(2))
            .sum::<f64>()
            / (DRAWS - 1) as f64;
        samples.sort_unstable();
        (mean, variance.sqrt(), samples)
    }

    fn assert_close(what: &str, actual: f64, expected: f64, relative: f64) {
        assert!(
            (actual - expected).abs() <= expected.abs() * relative,
            "{what}: {actual} vs expected {expected}"
        );
    }

    #[test]
    fn constant_is_constant() {
        let (mean, std_dev, _) = moments(&LatencyModel::Constant { latency_ns: 777 });
        assert_eq!((mean, std_dev), (777.0, 0.0));
    }

    #[test]
    fn uniform_moments() {
        let (mean, std_dev, samples) = moments(&LatencyModel::Uniform {
            min_ns: 1_000,
            max_ns: 3_000,
        });
        assert_close("mean", mean, 2_000.0, 0.005);
        assert_close("std dev", std_dev, 2_000.0 / 12f64.sqrt(), 0.01);
        assert_eq!((samples[0], samples[DRAWS - 1]), (1_000, 3_000));
    }

    #[test]
    fn normal_moments() {
        let (mean, std_dev, samples) = moments(&LatencyModel::Normal {
            mean_ns: 50_000,
            std_dev_ns: 5_000,
        });
        assert_close("mean", mean, 50_000.0, 0.002);
        assert_close("std dev", std_dev, 5_000.0, 0.01);
        assert_close("median", samples[DRAWS / 2] as f64, 50_000.0, 0.005);
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let (_, _, samples) = moments(&LatencyModel::Normal {
            mean_ns: 10,
            std_dev_ns: 100,
        });
        assert_eq!(samples[0], 0);
    }

    #[test]
    fn lognormal_moments() {
        let sigma: f64 = 0.5;
        let (mean, std_dev, samples) = moments(&LatencyModel::LogNormal {
            median_ns: 1_000_000,
            sigma_milli: 500,
        });
        let expected_mean = 1e6 * (sigma * sigma / 2.0).exp();
        let expected_std_dev = expected_mean * ((sigma * sigma).exp() - 1.0).sqrt();
        assert_close("mean", mean, expected_mean, 0.01);
        assert_close("std dev", std_dev, expected_std_dev, 0.03);
        assert_close("median", samples[DRAWS / 2] as f64, 1e6, 0.01);
    }

    #[test]
    fn pareto_moments() {
        let shape: f64 = 3.0;
        let (mean, _, samples) = moments(&LatencyModel::Pareto {
            scale_ns: 100_000,
            shape_milli: 3_000,
        });
        assert_close("mean", mean, shape * 1e5 / (shape - 1.0), 0.01);
        assert_close(
            "median",
            samples[DRAWS / 2] as f64,
            1e5 * 2f64.powf(1.0 / shape),
            0.01,
        );
        assert_eq!(samples[0], 100_000, "never below the scale");
        // Heavy tail: P(X > 10 × scale) = 10^-shape.
        let beyond = samples.iter().filter(|&&s| s > 1_000_000).count() as f64 / DRAWS as f64;
        assert_close("tail", beyond, 1e-3, 0.25);
    }

    #[test]
    fn draws_are_pinned_to_the_seed() {
        let model = LatencyModel::LogNormal {
            median_ns: 1_000,
            sigma_milli: 1_000,
        };
        let mut first = rng::stream(9, "latency-test", 1);
        let mut second = rng::stream(9, "latency-test", 1);
        let a: Vec<u64> = (0..100).map(|_| model.sample(&mut first)).collect();
        let b: Vec<u64> = (0..100).map(|_| model.sample(&mut second)).collect();
        assert_eq!(a, b);
    }
}
