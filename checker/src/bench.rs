//! `checker bench chapterN`: how long grading takes when nothing changed.
//!
//! A learner runs the checker after every edit, so its turnaround is what
//! they feel. Each run is split into the build check (cargo finding nothing
//! to do), the boot (QEMU start to the guest's ready marker) and the tests.
//!
//! Machines differ (the same bare boot takes 1.8 s on one and 2.3 s on
//! another, and a busy machine is slower still), so every run also boots
//! the same guest to run only `true`, right before the grading, and the
//! figures are given as ratios to that bare boot.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::chapters::Chapter;
use crate::compile::{self, Source};
use crate::grade::{self, JobSpec, Mode};
use crate::warm::WarmSlot;

/// Times `runs` gradings of `chapter`'s solution and prints the medians.
/// With `watch`, times what `checker watch` does after a save instead: a
/// grading in the guest kept up, of a runtime it has not seen yet.
pub fn run(chapter: &Chapter, runs: usize, mode: &Mode, watch: bool) -> Result<ExitCode> {
    grade::check_mode(mode)?;
    let slot = WarmSlot::default();
    let mut mode = mode.clone();
    if let (true, Mode::Vm { warm, .. }) = (watch, &mut mode) {
        *warm = Some(slot.clone());
    }
    let timed = time_runs(chapter, runs, &mode, watch);
    slot.shut_down();
    timed
}

fn time_runs(chapter: &Chapter, runs: usize, mode: &Mode, watch: bool) -> Result<ExitCode> {
    let mut quiet = |_: &str| {};
    // A first, untimed run fills every cache: builds, guest image, KVM verdict.
    let runtime = compile::build_runtime(chapter, Source::Solution, None)?;
    let tools = compile::build_tools()?;
    let job = JobSpec { tag: "runtime".into(), chapter: chapter.number, only: false, tests: Vec::new(), runtime };
    grade::execute(std::slice::from_ref(&job), mode, &tools, "bench-0", &mut quiet)?;

    let mut samples = Samples::default();
    for run in 1..=runs.max(1) {
        samples.bare.extend(grade::bare_boot(mode)?);
        if watch {
            // As after a save: the runtime is new, so it goes to the guest again.
            let file = std::fs::File::options().write(true).open(&job.runtime)?;
            file.set_modified(std::time::SystemTime::now())?;
        }
        let started = Instant::now();
        compile::build_runtime(chapter, Source::Solution, None)?;
        compile::build_tools()?;
        samples.build.push(started.elapsed());
        // Each run's results (with every test's duration) are kept apart.
        let name = format!("bench-{run}");
        let execution = grade::execute(std::slice::from_ref(&job), mode, &tools, &name, &mut quiet)?;
        if watch && execution.timings.boot.is_some() {
            anyhow::bail!("the guest kept up was not used: it booted again (see {})", execution.log.display());
        }
        let booted = execution.timings.boot.unwrap_or_default();
        samples.boot.push(booted);
        samples.tests.push(execution.timings.total.saturating_sub(booted));
        samples.total.push(started.elapsed());
    }
    let what = if watch { "a re-grade in `checker watch`'s guest kept up" } else { "--solution" };
    outln!("checker {} {what}, nothing to rebuild, median of {} runs", chapter_name(chapter), runs.max(1));
    samples.print();
    Ok(ExitCode::SUCCESS)
}

/// The timings of every run, one list per phase.
#[derive(Debug, Default)]
struct Samples {
    bare: Vec<Duration>,
    build: Vec<Duration>,
    boot: Vec<Duration>,
    tests: Vec<Duration>,
    total: Vec<Duration>,
}

impl Samples {
    /// One line per phase: the median, and its ratio to the bare boot's.
    fn print(self) {
        // On a busy machine the load changes from one run to the next: the
        // ratio of each run's total to its own bare boot is steadier.
        if self.bare.len() == self.total.len() && !self.bare.is_empty() {
            let mut ratios: Vec<f64> =
                self.total.iter().zip(&self.bare).map(|(t, b)| t.as_secs_f64() / b.as_secs_f64()).collect();
            ratios.sort_by(f64::total_cmp);
            let all: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            outln!(
                "  total ÷ bare boot, run by run: median {:.2}× (runs, sorted: {})",
                ratios[ratios.len() / 2],
                all.join(" ")
            );
        }
        let bare = (!self.bare.is_empty()).then(|| median(self.bare.clone()));
        let rows = [
            ("bare boot", self.bare),
            ("build check", self.build),
            ("boot to first test", self.boot),
            ("tests and shutdown", self.tests),
            ("total", self.total),
        ];
        for (what, samples) in rows.into_iter().filter(|(_, s)| !s.is_empty()) {
            let all: Vec<String> = samples.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
            let value = median(samples);
            let ratio = bare.map(|b| format!("{:>5.2}× bare boot", value.as_secs_f64() / b.as_secs_f64()));
            outln!(
                "  {what:<20} {:>6.2} s  {}  (runs: {})",
                value.as_secs_f64(),
                ratio.unwrap_or_default(),
                all.join(" ")
            );
        }
    }
}

fn chapter_name(chapter: &Chapter) -> String {
    format!("chapter{}", chapter.number)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
