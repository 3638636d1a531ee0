//! `start-latency`: times commands side by side, interleaved, and prints
//! their median wall-clock time and peak RSS as ratios to references.
//!
//! ```text
//! start-latency --runs 30 --reference crun --reference runc \
//!     oci='oci run --bundle /b oci-{run}' \
//!     crun='crun run --bundle /b crun-{run}' \
//!     runc='runc run --bundle /b runc-{run}'
//! ```
//!
//! Built for the capstone's guest, which has no hyperfine and runs under
//! emulation, where a run's time depends as much on the moment as on the
//! command: the candidates take turns, one run each per round (the first
//! to go rotating from round to round), so every candidate sees the same
//! machine, and the ratios, not the times, are what to compare.

mod candidate;
mod measure;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;

use candidate::Candidate;
use measure::{Runner, Sample};

/// Times commands interleaved, round-robin, and prints a table of median
/// latency and peak RSS, with ratios to the reference candidates.
#[derive(Parser)]
#[command(name = "start-latency")]
struct Cli {
    /// Measured runs per candidate.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Rounds run first and not measured (caches, page cache, lazy setup).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// A candidate to give ratios to (repeat for several).
    #[arg(long = "reference")]
    references: Vec<String>,
    /// Where the commands' output goes (shown when a run fails).
    #[arg(long, default_value = "/tmp/start-latency.log")]
    log: PathBuf,
    /// The candidates, NAME=COMMAND; `{run}` in COMMAND becomes a number
    /// unique to each run (for container ids).
    #[arg(required = true)]
    candidates: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("start-latency: {error:#}");
            ExitCode::from(125)
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let candidates = candidate::parse_all(&cli.candidates)?;
    for reference in &cli.references {
        if !candidates.iter().any(|c| &c.name == reference) {
            bail!("--reference {reference:?} names no candidate: give it as {reference}=COMMAND too");
        }
    }
    if cli.runs == 0 {
        bail!("--runs 0 measures nothing: give at least 1 (30 or more for a median worth quoting)");
    }
    let runner = Runner::new(&cli.log)?;
    let mut next_run = 0;

    for round in 0..cli.warmup {
        run_round(&runner, &candidates, round, &mut next_run).with_context(|| format!("warm-up round {round}"))?;
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(cli.runs); candidates.len()];
    for round in 0..cli.runs {
        let taken = run_round(&runner, &candidates, round, &mut next_run).with_context(|| format!("round {round}"))?;
        for (index, sample) in taken {
            samples[index].push(sample);
        }
    }

    let rows: Vec<report::Row<'_>> = candidates
        .iter()
        .zip(&samples)
        .map(|(candidate, samples)| report::Row { name: &candidate.name, samples })
        .collect();
    println!(
        "{} runs per candidate, interleaved round-robin after {} warm-up rounds; peak RSS is ru_maxrss from wait4\n",
        cli.runs, cli.warmup
    );
    print!("{}", report::table(&rows, &cli.references));
    Ok(())
}

/// One run of each candidate, starting with candidate `round % n`: the
/// order rotates, so no candidate always runs right after the same other
/// one (and inherits its after-effects: dirty caches, a cgroup being freed).
/// Returns each candidate's index with its sample.
fn run_round(
    runner: &Runner,
    candidates: &[Candidate],
    round: usize,
    next_run: &mut usize,
) -> Result<Vec<(usize, Sample)>> {
    let count = candidates.len();
    let mut taken = Vec::with_capacity(count);
    for offset in 0..count {
        let index = (round + offset) % count;
        let candidate = &candidates[index];
        let sample = runner.run(&candidate.argv(*next_run)).with_context(|| format!("candidate {}", candidate.name))?;
        *next_run += 1;
        taken.push((index, sample));
    }
    Ok(taken)
}
