//! The table: one row per candidate, latency and peak RSS, each also as a
//! ratio to the reference candidates. Markdown, to paste as it is.

use std::fmt::Write;

use crate::measure::Sample;
use crate::stats::{median, paired_median_ratio, percentile, ratio};

/// A candidate's samples, one per round, in round order.
pub struct Row<'a> {
    /// The candidate's name.
    pub name: &'a str,
    /// Its samples; the `i`-th of every row comes from the same round.
    pub samples: &'a [Sample],
}

fn millis(samples: &[Sample]) -> Vec<f64> {
    samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect()
}

fn rss(samples: &[Sample]) -> Vec<f64> {
    samples.iter().map(|s| s.max_rss_kib as f64).collect()
}

fn times(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |v| format!("{v:.2}×"))
}

fn mib(kib: Option<f64>) -> String {
    kib.map_or("—".to_string(), |k| format!("{:.1} MiB", k / 1024.0))
}

/// The peak RSS of a row: the largest of its runs'.
fn peak(samples: &[Sample]) -> Option<f64> {
    rss(samples).into_iter().reduce(f64::max)
}

/// Renders the table. Each name in `references` that is a row gets two
/// columns: latency (ratio of the medians, and the median of the per-round
/// ratios) and peak RSS (ratio of the peaks).
pub fn table(rows: &[Row<'_>], references: &[String]) -> String {
    let references: Vec<&Row<'_>> =
        references.iter().filter_map(|name| rows.iter().find(|row| row.name == name.as_str())).collect();
    let mut out = String::from("| candidate | median | p10–p90 |");
    for reference in &references {
        let _ = write!(out, " ÷ {0} median (per round) |", reference.name);
    }
    out.push_str(" peak RSS (median) |");
    for reference in &references {
        let _ = write!(out, " RSS ÷ {} |", reference.name);
    }
    out.push_str("\n|---|---|---|");
    out.push_str(&"---|".repeat(references.len() * 2 + 1));
    out.push('\n');

    for row in rows {
        let ms = millis(row.samples);
        let (p10, p50, p90) = (percentile(&ms, 10.0), median(&ms), percentile(&ms, 90.0));
        let fmt_ms = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.1}"));
        let _ = write!(out, "| {} | {} ms | {}–{} ms |", row.name, fmt_ms(p50), fmt_ms(p10), fmt_ms(p90));
        for reference in &references {
            let of_medians = p50.zip(median(&millis(reference.samples))).and_then(|(v, r)| ratio(v, r));
            let per_round = paired_median_ratio(&ms, &millis(reference.samples));
            let _ = write!(out, " {} ({}) |", times(of_medians), times(per_round));
        }
        let _ = write!(out, " {} ({}) |", mib(peak(row.samples)), mib(median(&rss(row.samples))));
        for reference in &references {
            let of_peaks = peak(row.samples).zip(peak(reference.samples)).and_then(|(v, r)| ratio(v, r));
            let _ = write!(out, " {} |", times(of_peaks));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn samples(ms: &[u64], kib: u64) -> Vec<Sample> {
        ms.iter().map(|&ms| Sample { wall: Duration::from_millis(ms), max_rss_kib: kib }).collect()
    }

    #[test]
    fn the_table_gives_ratios_to_each_reference() {
        let fast = samples(&[10, 20, 30], 1024);
        let slow = samples(&[40, 40, 40], 2048);
        let rows = [Row { name: "fast", samples: &fast }, Row { name: "slow", samples: &slow }];
        let text = table(&rows, &["slow".to_string(), "absent".to_string()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains("÷ slow median"), "{text}");
        assert!(!lines[0].contains("absent"), "a reference that is no row has no column: {text}");
        // Median 20 of 40; per round 10/40, 20/40, 30/40; RSS 1 of 2 MiB.
        assert_eq!(lines[2], "| fast | 20.0 ms | 12.0–28.0 ms | 0.50× (0.50×) | 1.0 MiB (1.0 MiB) | 0.50× |");
        assert_eq!(lines[3], "| slow | 40.0 ms | 40.0–40.0 ms | 1.00× (1.00×) | 2.0 MiB (2.0 MiB) | 1.00× |");
    }
}
