//! Small-sample statistics for rates and counts, on statrs.
//!
//! A complaint rate of 1 in 3 and one of 30 in 3,000 are both "high", but only the second is
//! evidence. Rates are therefore judged by a Beta posterior: a prior worth `prior_strength`
//! recipients at `prior_rate`, updated with what was seen, and the probability that the true rate
//! lies beyond the policy's threshold. Volume bursts are judged by the Poisson upper tail of the
//! last hour's count under the business's own baseline.

use statrs::distribution::{Beta, ContinuousCDF, DiscreteCDF, Poisson};

/// A Beta prior for a rate: `strength` pseudo-observations at `rate`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prior {
    /// Prior mean of the rate.
    pub rate: f64,
    /// Weight of the prior, in observations.
    pub strength: f64,
}

impl Prior {
    /// The posterior's shape parameters `(a, b)` after `hits` out of `trials`.
    fn shape(self, hits: u64, trials: u64) -> (f64, f64) {
        let trials = trials.max(hits);
        let a = self.rate * self.strength + hits as f64;
        let b = (1.0 - self.rate) * self.strength + (trials - hits) as f64;
        (a, b)
    }

    fn posterior(self, hits: u64, trials: u64) -> Option<Beta> {
        let (a, b) = self.shape(hits, trials);
        Beta::new(a, b).ok()
    }

    /// Whether P(true rate > `threshold`) given `hits` out of `trials` may reach `floor`: `false`
    /// only when Cantelli's inequality on the posterior, P(X − μ ≥ k) ≤ σ² / (σ² + k²), puts it
    /// below half of `floor` — far enough below that the computed probability (whose numerical
    /// error is many orders smaller) cannot reach `floor` either. Judging a business asks only
    /// whether a rate signal fires; most rates are nowhere near their line, and this answers for
    /// them without the Beta CDF's continued fraction.
    pub fn may_be_above(self, hits: u64, trials: u64, threshold: f64, floor: f64) -> bool {
        self.may_be_beyond(hits, trials, threshold, floor, true)
    }

    /// [`Prior::may_be_above`] for P(true rate < `threshold`).
    pub fn may_be_below(self, hits: u64, trials: u64, threshold: f64, floor: f64) -> bool {
        self.may_be_beyond(hits, trials, threshold, floor, false)
    }

    fn may_be_beyond(
        self,
        hits: u64,
        trials: u64,
        threshold: f64,
        floor: f64,
        above: bool,
    ) -> bool {
        let (a, b) = self.shape(hits, trials);
        if !(a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() && floor > 0.0) {
            return true;
        }
        let n = a + b;
        let mean = a / n;
        let variance = a * b / (n * n * (n + 1.0));
        let k = if above {
            threshold - mean
        } else {
            mean - threshold
        };
        if k <= 0.0 {
            return true;
        }
        variance / (variance + k * k) >= 0.5 * floor
    }

    /// P(true rate > `threshold`) given `hits` out of `trials`.
    pub fn prob_above(self, hits: u64, trials: u64, threshold: f64) -> f64 {
        self.posterior(hits, trials)
            .map_or(0.0, |d| 1.0 - d.cdf(threshold))
    }

    /// P(true rate < `threshold`) given `hits` out of `trials`.
    pub fn prob_below(self, hits: u64, trials: u64, threshold: f64) -> f64 {
        self.posterior(hits, trials)
            .map_or(0.0, |d| d.cdf(threshold))
    }

    /// The central credible interval holding `level` of the posterior mass.
    pub fn interval(self, hits: u64, trials: u64, level: f64) -> (f64, f64) {
        match self.posterior(hits, trials) {
            Some(d) => {
                let tail = (1.0 - level) / 2.0;
                (d.inverse_cdf(tail), d.inverse_cdf(1.0 - tail))
            }
            None => (0.0, 1.0),
        }
    }
}

/// P(X >= k) for X ~ Poisson(lambda).
pub fn poisson_upper_tail(lambda: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    match Poisson::new(lambda.max(1e-9)) {
        Ok(d) => d.sf(k - 1),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIOR: Prior = Prior {
        rate: 0.001,
        strength: 1000.0,
    };

    #[test]
    fn one_in_three_is_not_evidence_thirty_in_three_thousand_is() {
        assert!(PRIOR.prob_above(1, 3, 0.003) < 0.5);
        assert!(PRIOR.prob_above(30, 3000, 0.003) > 0.999);
    }

    /// Posterior tails worked out apart from statrs (mpmath's regularised incomplete beta, 30
    /// digits): Beta(rate·strength + hits, (1 − rate)·strength + trials − hits).
    #[test]
    fn posterior_tails_match_values_computed_elsewhere() {
        let cases = [
            (0.01, 100.0, 3, 100, 0.02, 0.435_441_945_300_850_6),
            (0.01, 100.0, 3, 100, 0.05, 0.009_396_344_868_361_908),
            (0.2, 10.0, 30, 100, 0.25, 0.827_051_395_139_610_3),
            (0.005, 200.0, 10, 1000, 0.015, 0.029_690_917_778_521_61),
        ];
        for (rate, strength, hits, trials, line, want) in cases {
            let got = Prior { rate, strength }.prob_above(hits, trials, line);
            assert!(
                (got - want).abs() < 1e-9,
                "{rate} {strength} {hits}/{trials}: {got}"
            );
        }
    }

    /// Cantelli's bound at its edge, worked out apart: for Beta(1, 1099) (prior 1% worth 100,
    /// nothing in 1,000) and a line at 0.3%, σ²/(σ² + k²) = 0.158740, so it rules out a floor
    /// whose half is 0.05% above that and not one whose half is 0.497 of a ratio set there.
    #[test]
    fn the_cantelli_bound_is_exactly_as_tight_as_its_formula() {
        let prior = Prior {
            rate: 0.01,
            strength: 100.0,
        };
        assert!(!prior.may_be_above(0, 1000, 0.003, 0.317_637_857_145_952_3));
        assert!(prior.may_be_above(0, 1000, 0.003, 0.317_2));
        // A line where the ratio is 0.497: a floor of 0.99 (half 0.495) may be reached.
        assert!(prior.may_be_above(0, 1000, 0.001_822_821_783_549_476_2, 0.99));
        // Below: a rate of a half is nowhere near a line at 1%, one of 0.1% may be.
        let even = Prior {
            rate: 0.5,
            strength: 100.0,
        };
        assert!(!even.may_be_below(500, 1000, 0.01, 0.99));
        assert!(prior.may_be_below(1, 1000, 0.01, 0.99));
    }

    /// Quantiles and tails worked out apart (mpmath, 30 digits).
    #[test]
    fn intervals_and_poisson_tails_match_values_computed_elsewhere() {
        let (lo, hi) = PRIOR.interval(50, 10_000, 0.9);
        assert!((lo - 0.003_624_616_456_036_487).abs() < 1e-9, "{lo}");
        assert!((hi - 0.005_750_415_670_040_476).abs() < 1e-9, "{hi}");
        assert!((poisson_upper_tail(1.0, 3) - 0.080_301_397_071_394_2).abs() < 1e-12);
        assert!((poisson_upper_tail(4.0, 10) - 0.008_132_242_796_933_863).abs() < 1e-12);
        assert_eq!(poisson_upper_tail(4.0, 0), 1.0);
    }

    #[test]
    fn interval_brackets_the_observed_rate_with_enough_data() {
        let (lo, hi) = PRIOR.interval(50, 10_000, 0.9);
        assert!(lo < 0.005 && 0.005 < hi, "({lo}, {hi})");
        assert!(hi - lo < 0.003);
    }

    /// The bound never says "cannot reach" of a probability that reaches half the floor, over
    /// priors, counts and lines like the policy's and far outside them; and it does answer for
    /// rates far from their line (else it would save nothing).
    #[test]
    fn the_cantelli_bound_only_rules_out_what_cannot_fire() {
        type Tail = fn(Prior, u64, u64, f64) -> f64;
        type MayBe = fn(Prior, u64, u64, f64, f64) -> bool;
        let sides: [(&str, Tail, MayBe); 2] = [
            (">", Prior::prob_above, Prior::may_be_above),
            ("<", Prior::prob_below, Prior::may_be_below),
        ];
        let mut ruled_out = 0;
        for (rate, strength) in [(0.001, 500.0), (0.01, 50.0), (0.3, 10.0), (0.6, 2.0)] {
            let prior = Prior { rate, strength };
            for trials in [1u64, 3, 10, 50, 200, 1_000, 20_000, 300_000] {
                for hits in [
                    0,
                    1,
                    2,
                    5,
                    trials / 100,
                    trials / 10,
                    trials / 3,
                    trials / 2,
                    trials,
                ] {
                    let hits = hits.min(trials);
                    for threshold in [0.001, 0.003, 0.02, 0.1, 0.25, 0.5, 0.9] {
                        for floor in [0.5, 0.9, 0.95, 0.99, 0.999] {
                            for (side, tail, may_be) in sides {
                                let p = tail(prior, hits, trials, threshold);
                                if !may_be(prior, hits, trials, threshold, floor) {
                                    assert!(
                                        p < 0.5 * floor,
                                        "{prior:?} {hits}/{trials} {side} {threshold}: {p}"
                                    );
                                    ruled_out += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(ruled_out > 5_000, "{ruled_out}");
    }

    #[test]
    fn poisson_tail() {
        assert!((poisson_upper_tail(10.0, 0) - 1.0).abs() < 1e-12);
        assert!(poisson_upper_tail(10.0, 10) > 0.4);
        assert!(poisson_upper_tail(10.0, 60) < 1e-15);
    }
}
