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
//! command: the candidates take turns, one run each per round, in an order
//! shuffled anew for every round (see [`order`]), so every candidate sees
//! the same machine, and the ratios, not the times, are what to compare.

mod candidate;
mod measure;
mod order;
mod report;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use candidate::Candidate;
use measure::{Runner, Sample};
use order::Shuffler;

/// Times commands interleaved, in shuffled rounds, and prints a table of median
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
    /// The seed of the rounds' shuffled orders (the same seed, the same
    /// orders).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A pause before each run, in milliseconds, for the kernel to finish
    /// what the last run left (a namespace's teardown), so that no run
    /// pays for another's. Not in the measured time.
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
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
    let mut session =
        Session { runner, shuffler: Shuffler::new(cli.seed), pause: Duration::from_millis(cli.pause_ms), next_run: 0 };

    for round in 0..cli.warmup {
        session.round(&candidates).with_context(|| format!("warm-up round {round}"))?;
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(cli.runs); candidates.len()];
    for round in 0..cli.runs {
        let taken = session.round(&candidates).with_context(|| format!("round {round}"))?;
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
        "{} runs per candidate, interleaved (one each per round, order shuffled, seed {}) after {} warm-up rounds, \
         {} ms pause before each run; peak RSS is ru_maxrss from wait4\n",
        cli.runs, cli.seed, cli.warmup, cli.pause_ms
    );
    print!("{}", report::table(&rows, &cli.references));
    Ok(())
}

/// The state of a measuring session: who runs, in which order, and the
/// number for the next run's `{run}`.
struct Session {
    runner: Runner,
    shuffler: Shuffler,
    pause: Duration,
    next_run: usize,
}

impl Session {
    /// One run of each candidate, in a freshly shuffled order. Returns
    /// each candidate's index with its sample.
    fn round(&mut self, candidates: &[Candidate]) -> Result<Vec<(usize, Sample)>> {
        let mut taken = Vec::with_capacity(candidates.len());
        for index in self.shuffler.order(candidates.len()) {
            let candidate = &candidates[index];
            if !self.pause.is_zero() {
                std::thread::sleep(self.pause);
            }
            let sample = self
                .runner
                .run(&candidate.argv(self.next_run))
                .with_context(|| format!("candidate {}", candidate.name))?;
            self.next_run += 1;
            taken.push((index, sample));
        }
        Ok(taken)
    }
}
