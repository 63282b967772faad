//! Drawing a delay from a [`Distribution`], reproducibly: only basic IEEE
//! operations and `libm`, on 53-bit uniforms from the caller's seeded stream.
//! The result is integer ns, so nothing downstream depends on float output.

use celluler_core::rng::unit_f64;
use celluler_core::time::TimeNs;
use rand_core::RngCore;

use super::Distribution;

/// Longest delay a draw returns; heavy tails (Pareto with a small shape) are
/// cut here rather than overflow the clock.
pub const SAMPLE_NS_MAX: TimeNs = 3_600_000_000_000;

impl Distribution {
    /// One delay in ns, in `0..=SAMPLE_NS_MAX`.
    pub fn sample_ns(&self, rng: &mut impl RngCore) -> TimeNs {
        let sample = match *self {
            Distribution::Constant { value_ns } => return value_ns.min(SAMPLE_NS_MAX),
            Distribution::Uniform { min_ns, max_ns } => {
                let span = max_ns - min_ns;
                return (min_ns + celluler_core::rng::below(rng, span.saturating_add(1).max(1)))
                    .min(SAMPLE_NS_MAX);
            }
            Distribution::Normal { mean_ns, stddev_ns } => {
                mean_ns as f64 + stddev_ns as f64 * standard_normal(rng)
            }
            Distribution::LogNormal { median_ns, sigma } => {
                median_ns as f64 * libm::exp(sigma * standard_normal(rng))
            }
            Distribution::Pareto { scale_ns, shape } => {
                // 1 - U lies in (0, 1], so the power is finite.
                let uniform = 1.0 - unit_f64(rng);
                scale_ns as f64 / libm::pow(uniform, 1.0 / shape)
            }
        };
        to_ns(sample)
    }
}

/// Box–Muller: one standard normal draw from two uniforms.
fn standard_normal(rng: &mut impl RngCore) -> f64 {
    let radius_uniform = 1.0 - unit_f64(rng); // (0, 1]: the log is finite
    let angle_uniform = unit_f64(rng);
    libm::sqrt(-2.0 * libm::log(radius_uniform))
        * libm::cos(2.0 * core::f64::consts::PI * angle_uniform)
}

fn to_ns(sample: f64) -> TimeNs {
    if sample.is_nan() || sample <= 0.0 {
        return 0;
    }
    if sample >= SAMPLE_NS_MAX as f64 {
        return SAMPLE_NS_MAX;
    }
    libm::floor(sample) as TimeNs
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::rng::stream;

    fn draws(distribution: &Distribution, count: usize) -> Vec<TimeNs> {
        let mut rng = stream(7, "latency-test", 0);
        (0..count)
            .map(|_| distribution.sample_ns(&mut rng))
            .collect()
    }

    fn median(mut values: Vec<TimeNs>) -> TimeNs {
        values.sort_unstable();
        values[values.len() / 2]
    }

    #[test]
    fn constant_and_uniform_stay_in_bounds() {
        assert!(
            draws(&Distribution::Constant { value_ns: 5 }, 10)
                .iter()
                .all(|&ns| ns == 5)
        );
        let uniform = draws(
            &Distribution::Uniform {
                min_ns: 10,
                max_ns: 20,
            },
            2000,
        );
        assert!(uniform.iter().all(|&ns| (10..=20).contains(&ns)));
        assert!(uniform.contains(&10) && uniform.contains(&20));
    }

    #[test]
    fn lognormal_median_and_pareto_floor() {
        let lognormal = Distribution::LogNormal {
            median_ns: 50_000_000,
            sigma: 0.4,
        };
        let observed = median(draws(&lognormal, 4001)) as f64;
        assert!((observed / 50e6 - 1.0).abs() < 0.05, "median {observed}");
        let pareto = Distribution::Pareto {
            scale_ns: 1_000_000,
            shape: 2.0,
        };
        let values = draws(&pareto, 2000);
        assert!(values.iter().all(|&ns| ns >= 1_000_000));
        // Median of Pareto(scale, shape) is scale * 2^(1/shape).
        let observed = median(values) as f64;
        assert!(
            (observed / (1e6 * 2f64.sqrt()) - 1.0).abs() < 0.07,
            "median {observed}"
        );
    }

    #[test]
    fn normal_is_clamped_at_zero_and_centred() {
        let normal = Distribution::Normal {
            mean_ns: 1_000,
            stddev_ns: 2_000,
        };
        let values = draws(&normal, 4001);
        assert!(values.contains(&0));
        let wide = Distribution::Normal {
            mean_ns: 1_000_000,
            stddev_ns: 100_000,
        };
        let observed = median(draws(&wide, 4001)) as f64;
        assert!((observed / 1e6 - 1.0).abs() < 0.02, "median {observed}");
    }

    #[test]
    fn draws_are_reproducible() {
        let lognormal = Distribution::LogNormal {
            median_ns: 50_000_000,
            sigma: 0.4,
        };
        assert_eq!(draws(&lognormal, 100), draws(&lognormal, 100));
    }
}
