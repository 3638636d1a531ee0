//! The statistics of a set of samples: percentiles (the median is the
//! 50th) and ratios to a reference.
//!
//! Medians and percentiles rather than means: on a busy machine, and more
//! so under emulation, a few runs take many times longer than the rest
//! (another job got the CPU), and one such run moves a mean a lot but a
//! median hardly at all.

/// The `p`-th percentile (0–100) of `values`, interpolated linearly
/// between the two closest ranks (the "R-7" definition numpy and most
/// spreadsheets use), or `None` for no values or a `p` out of range.
///
/// With n sorted values x₀…xₙ₋₁ the percentile sits at rank
/// h = (n − 1)·p/100, between x⌊h⌋ and x⌈h⌉: p = 50 of an even count is
/// the mean of the middle two, the usual median.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&p) || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() - 1) as f64 * p / 100.0;
    // Both within 0..len: rank is at most len − 1.
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let fraction = rank - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// The median of `values`: [`percentile`] 50.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// `value / reference`, or `None` when the reference is not a positive
/// number (a ratio to nothing means nothing).
pub fn ratio(value: f64, reference: f64) -> Option<f64> {
    (reference > 0.0 && reference.is_finite()).then(|| value / reference)
}

/// The median of the per-round ratios `values[i] / reference[i]`.
///
/// The candidates run interleaved, one run of each per round, so the runs
/// of one round share the machine's state at that moment (a neighbour's
/// build, the host's frequency). A ratio taken within each round cancels
/// most of that; the median of those ratios is steadier than the ratio
/// of the two medians when the machine's load changes during the session.
pub fn paired_median_ratio(values: &[f64], reference: &[f64]) -> Option<f64> {
    if values.len() != reference.len() {
        return None;
    }
    let ratios: Option<Vec<f64>> = values.iter().zip(reference).map(|(&v, &r)| ratio(v, r)).collect();
    median(&ratios?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn a_single_value_is_every_percentile() {
        for p in [0.0, 10.0, 50.0, 90.0, 100.0] {
            assert_eq!(percentile(&[7.0], p), Some(7.0));
        }
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        // 1..=11: rank h = 10·p/100, so p10 is exactly the second value.
        let values: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(percentile(&values, 10.0), Some(2.0));
        assert_eq!(percentile(&values, 90.0), Some(10.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&values, 100.0), Some(11.0));
        // 10, 20, 30, 40: p10 sits at rank 0.3, 30% of the way to 20.
        let four = [40.0, 10.0, 30.0, 20.0];
        let p10 = percentile(&four, 10.0).expect("p10");
        assert!((p10 - 13.0).abs() < 1e-9, "p10 {p10}");
        let p90 = percentile(&four, 90.0).expect("p90");
        assert!((p90 - 37.0).abs() < 1e-9, "p90 {p90}");
    }

    #[test]
    fn an_outlier_does_not_move_the_median() {
        assert_eq!(median(&[10.0, 11.0, 12.0, 13.0, 5000.0]), Some(12.0));
    }

    #[test]
    fn no_values_or_a_bad_percentile_give_nothing() {
        assert_eq!(median(&[]), None);
        assert_eq!(percentile(&[1.0, 2.0], 101.0), None);
        assert_eq!(percentile(&[1.0, 2.0], -1.0), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 50.0), None);
    }

    #[test]
    fn ratios_need_a_positive_reference() {
        assert_eq!(ratio(3.0, 6.0), Some(0.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(3.0, -1.0), None);
    }

    #[test]
    fn paired_ratios_cancel_a_shared_slowdown() {
        // The machine got three times slower for the last two rounds; the
        // candidate is half the reference in every round.
        let reference = [10.0, 10.0, 10.0, 30.0, 30.0];
        let candidate = [5.0, 5.0, 5.0, 15.0, 15.0];
        assert_eq!(paired_median_ratio(&candidate, &reference), Some(0.5));
        assert_eq!(paired_median_ratio(&candidate[..2], &reference), None);
    }
}
