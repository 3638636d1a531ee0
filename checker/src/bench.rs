//! `checker bench chapterN`: how long grading takes when nothing changed.
//!
//! A learner runs the checker after every edit, so its turnaround is what
//! they feel. Each run is split into the build check (cargo finding nothing
//! to do), the boot (QEMU start to the guest's ready marker) and the tests.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::chapters::Chapter;
use crate::compile::{self, Source};
use crate::grade::{self, JobSpec, Mode};

/// Times `runs` gradings of `chapter`'s solution and prints the medians.
pub fn run(chapter: &Chapter, runs: usize, mode: &Mode) -> Result<ExitCode> {
    grade::check_mode(mode)?;
    let mut quiet = |_: &str| {};
    // A first, untimed run fills every cache: builds, guest image, KVM verdict.
    let runtime = compile::build_runtime(chapter, Source::Solution, None)?;
    let tools = compile::build_tools()?;
    let job = JobSpec { tag: "runtime".into(), chapter: chapter.number, only: false, runtime };
    grade::execute(std::slice::from_ref(&job), mode, &tools, "bench", &mut quiet)?;

    let (mut build, mut boot, mut tests, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        compile::build_runtime(chapter, Source::Solution, None)?;
        compile::build_tools()?;
        build.push(started.elapsed());
        let execution = grade::execute(std::slice::from_ref(&job), mode, &tools, "bench", &mut quiet)?;
        let booted = execution.timings.boot.unwrap_or_default();
        boot.push(booted);
        tests.push(execution.timings.total.saturating_sub(booted));
        total.push(started.elapsed());
    }
    println!("checker {} --solution, nothing to rebuild, median of {} runs", chapter_name(chapter), total.len());
    for (what, samples) in
        [("build check", build), ("boot to first test", boot), ("tests and shutdown", tests), ("total", total)]
    {
        println!("  {what:<20} {:>8.2} s", median(samples).as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

fn chapter_name(chapter: &Chapter) -> String {
    format!("chapter{}", chapter.number)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
