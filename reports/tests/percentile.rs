//! The one percentile definition, pinned at its public path: nearest rank,
//! `x_k` with `k = max(1, ceil(p·n/1000))` for ascending `x_1..x_n` and `p`
//! in per mille (docs/metrics.md, "Percentile method"). `celluler bench
//! cells` and the reports both call it.

use celluler_reports::nearest_rank;

#[test]
fn nearest_rank_of_one_to_four() {
    let sorted = [1, 2, 3, 4];
    assert_eq!(nearest_rank(&sorted, 0), Some(1));
    assert_eq!(nearest_rank(&sorted, 250), Some(1));
    assert_eq!(nearest_rank(&sorted, 251), Some(2));
    assert_eq!(nearest_rank(&sorted, 500), Some(2));
    assert_eq!(nearest_rank(&sorted, 510), Some(3));
    assert_eq!(nearest_rank(&sorted, 990), Some(4));
    assert_eq!(nearest_rank(&sorted, 1000), Some(4));
}

#[test]
fn nearest_rank_differs_from_floor_of_n_minus_one_times_p() {
    // floor((n − 1)·p) would pick 10 for p51 of two samples and 99 for p99.1
    // of 1..=100; nearest rank picks the smallest sample with at least p of
    // the samples at or below it.
    assert_eq!(nearest_rank(&[10, 20], 500), Some(10));
    assert_eq!(nearest_rank(&[10, 20], 510), Some(20));
    let hundred: Vec<u64> = (1..=100).collect();
    assert_eq!(nearest_rank(&hundred, 990), Some(99));
    assert_eq!(nearest_rank(&hundred, 991), Some(100));
}

#[test]
fn nearest_rank_of_nothing_is_none() {
    assert_eq!(nearest_rank(&[], 500), None);
}
