//! Running the suite — in the guest, or on this machine with `--host` — and
//! matching what it reports against the catalog of tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use greenroom_vm::{Accel, FileSource, GuestFile, Verdict};
use suite::isolation::Isolation;
use suite::protocol::{Line, Request, Status, TestResult};

use crate::compile::work_dir;
use crate::warm::WarmSlot;

/// Where the tests run.
#[derive(Debug, Clone)]
pub enum Mode {
    /// In a throwaway QEMU guest (the default).
    Vm {
        /// The user's `--kernel`, if any.
        kernel: Option<PathBuf>,
        /// The user's `--accel`, if any.
        accel: Option<Accel>,
        /// A guest kept up between gradings (`checker watch`), if wanted.
        warm: Option<WarmSlot>,
    },
    /// Directly on this machine, as root (`--host`).
    Host,
}

/// One runtime to grade, as the checker sees it.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// A label for its results.
    pub tag: String,
    /// The chapter graded.
    pub chapter: u8,
    /// Only that chapter's tests.
    pub only: bool,
    /// Only the tests of these names; empty for all.
    pub tests: Vec<String>,
    /// The runtime binary on this machine.
    pub runtime: PathBuf,
}

/// One test's outcome, joined with its catalog entry.
#[derive(Debug, Clone)]
pub struct Graded {
    /// The test as the catalog describes it.
    pub test: suite::TestCase,
    /// What happened.
    pub result: TestResult,
}

impl Graded {
    /// Points earned.
    pub fn score(&self) -> u32 {
        if self.result.status == Status::Pass {
            self.test.points
        } else {
            0
        }
    }
}

/// Timings of one run, for the report and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// From starting QEMU to the guest being ready (VM mode only).
    pub boot: Option<Duration>,
    /// The whole run of the suite, boot included.
    pub total: Duration,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Per job tag, its tests in order.
    pub jobs: Vec<(String, Vec<Graded>)>,
    /// Per job tag, what its runtime's container isolates, if the suite
    /// got as far as measuring it.
    pub isolation: Vec<(String, Isolation)>,
    /// The saved console log (VM) or suite output (host).
    pub log: PathBuf,
    /// Timings.
    pub timings: Timings,
}

/// The whole-run deadline: generous, since TCG is slow and a cold cache
/// is slower still, but finite, so a hung guest cannot hang the checker.
fn deadline(jobs: &[JobSpec], per_test: Duration) -> Duration {
    let tests: usize = jobs.iter().map(|j| suite::tests_named(j.chapter, j.only, &j.tests).len()).sum();
    // Each job ends with one more run of its runtime: the isolation matrix.
    let runs = Duration::from_secs(60) + per_test * (tests + jobs.len()) as u32;
    // podman's rows make several podman calls each, 3–10 s apiece under TCG.
    let podman: usize = jobs
        .iter()
        .map(|j| {
            suite::tests_named(j.chapter, j.only, &j.tests).iter().filter(|t| t.name.starts_with("podman-")).count()
        })
        .sum();
    runs + PODMAN_TEST_TIMEOUT * podman as u32
}

/// What one podman row of chapter 7 may take in all, beyond a test's usual
/// time: a handful of podman commands under emulation.
const PODMAN_TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// The chapter from which grading boots the capstone's guest (podman,
/// conmon, crun and runc on a disk of their own).
pub const CAPSTONE_CHAPTER: u8 = 7;

/// Fails at once, before any build, if `mode` cannot work here.
pub fn check_mode(mode: &Mode) -> Result<()> {
    if matches!(mode, Mode::Host) && !nix::unistd::geteuid().is_root() {
        bail!(
            "--host runs the tests, and your runtime, as root on this machine: run it with sudo \
             (better, inside the Vagrant box), or drop --host to use the VM"
        );
    }
    Ok(())
}

/// A spinner with the time elapsed while the guest runs, on a terminal;
/// a plain progress line otherwise, so piped output stays readable.
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(message: &str, progress: &mut dyn FnMut(&str)) -> Spinner {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            progress(message);
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The suite's scratch directory in the guest: each test's is
/// `GUEST_SCRATCH/TAG/TEST` (see `crate::shell` for the repeat lines).
pub const GUEST_SCRATCH: &str = "/tmp/greenroom-scratch";

/// Seconds one run of a runtime may take inside the suite.
pub const PER_TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every job's tests and returns their results.
pub fn execute(
    jobs: &[JobSpec],
    mode: &Mode,
    tools: &(PathBuf, PathBuf),
    name: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Execution> {
    let logs = work_dir().join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let log = logs.join(format!("{name}.log"));
    let started = Instant::now();
    let (lines, problem, boot) = match mode {
        Mode::Vm { kernel, accel, warm } => {
            run_in_vm(jobs, tools, kernel.as_deref(), *accel, warm.as_ref(), &log, progress)?
        }
        Mode::Host => run_on_host(jobs, tools, &log, progress)?,
    };
    let timings = Timings { boot, total: started.elapsed() };
    // The raw lines, per-test durations included, for whoever debugs a run.
    let _ = fs::write(logs.join(format!("{name}.results.jsonl")), lines.join("\n"));
    let isolation = isolation_of(&lines);
    Ok(Execution { jobs: collect(jobs, &lines, problem.as_deref(), &log), isolation, log, timings })
}

type RawRun = (Vec<String>, Option<String>, Option<Duration>);

/// Boots the same guest as grading does, to run only `true`: the reference
/// a grading's time is measured against (`checker bench`). Returns the
/// wall time of the whole boot, from starting QEMU to its end.
pub fn bare_boot(mode: &Mode) -> Result<Option<Duration>> {
    let Mode::Vm { kernel, accel, .. } = mode else { return Ok(None) };
    let cache = greenroom_vm::default_cache_dir();
    let mut quiet = |_: &str| {};
    let assets = greenroom_vm::ensure_assets(&cache, kernel.as_deref(), &mut quiet)?;
    let accel = greenroom_vm::choose_accel(&cache, &assets, *accel, &mut quiet)?;
    let log = work_dir().join("logs").join("bare-boot.log");
    let outcome = greenroom_vm::boot(&greenroom_vm::BootRequest {
        assets: &assets,
        cache: &cache,
        files: Vec::new(),
        command: vec!["true".into()],
        env: Vec::new(),
        deadline: Duration::from_secs(60),
        log_path: log.clone(),
        accel,
        memory_mib: GUEST_MEMORY_MIB,
        disks: Vec::new(),
    })?;
    if outcome.verdict != (Verdict::Completed { exit_code: 0 }) {
        bail!("a bare boot of the guest failed: {:?} (see {})", outcome.verdict, log.display());
    }
    Ok(Some(outcome.total))
}

/// Guest memory for grading: room for the initramfs unpacked twice and the tests.
const GUEST_MEMORY_MIB: u32 = 512;

/// What every boot of the grading guest needs: the kernel and busybox,
/// the accelerator, and the files added to its root file system.
pub struct GuestImage {
    /// The cache directory.
    pub cache: PathBuf,
    /// The kernel, modules and busybox.
    pub assets: greenroom_vm::Assets,
    /// KVM or TCG.
    pub accel: Accel,
    /// The files of this boot: the programs, and what chapter 5's
    /// rootless tests need.
    pub files: Vec<GuestFile>,
    /// The capstone's profile, for chapter 7's boots (see
    /// [`GuestImage::with_capstone`]); `None` keeps other chapters' guests small.
    pub capstone: Option<greenroom_vm::capstone::Capstone>,
}

impl GuestImage {
    /// Fetches what is missing and lists `programs` (guest path, host
    /// file) as the guest's files, with the rootless helpers.
    pub fn prepare(
        programs: &[(String, PathBuf)],
        kernel: Option<&Path>,
        accel: Option<Accel>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<GuestImage> {
        let cache = greenroom_vm::default_cache_dir();
        greenroom_vm::find_qemu()?;
        let assets = greenroom_vm::ensure_assets(&cache, kernel, progress)?;
        let accel = greenroom_vm::choose_accel(&cache, &assets, accel, progress)?;
        let mut files: Vec<GuestFile> = programs
            .iter()
            .map(|(guest_path, host)| GuestFile {
                guest_path: guest_path.clone(),
                source: FileSource::Path(host.clone()),
                mode: 0o755,
            })
            .collect();
        // Chapter 5 runs runtimes as an unprivileged user, with newuidmap.
        files.extend(greenroom_vm::rootless::guest_files(&cache, progress)?);
        Ok(GuestImage { cache, assets, accel, files, capstone: None })
    }

    /// Adds the capstone's profile to every boot of this image, building
    /// its disk on first use.
    pub fn with_capstone(mut self, progress: &mut dyn FnMut(&str)) -> Result<GuestImage> {
        let profile = greenroom_vm::capstone::ensure_capstone(&self.cache, &self.assets, self.accel, progress)?;
        self.capstone = Some(profile);
        Ok(self)
    }

    /// A boot of this image that runs `command`.
    pub fn request(
        &self,
        command: Vec<String>,
        env: Vec<(String, String)>,
        deadline: Duration,
        log: &Path,
    ) -> greenroom_vm::BootRequest<'_> {
        let mut request = greenroom_vm::BootRequest {
            assets: &self.assets,
            cache: &self.cache,
            files: self.files.clone(),
            command,
            env,
            deadline,
            log_path: log.to_path_buf(),
            accel: self.accel,
            memory_mib: GUEST_MEMORY_MIB,
            disks: Vec::new(),
        };
        if let Some(capstone) = &self.capstone {
            capstone.apply(&mut request);
        }
        request
    }
}

/// Where the guest's programs are: the probe, the suite, and each job's
/// runtime as `GUEST_BIN/TAG`.
pub const GUEST_BIN: &str = "/greenroom/bin";

fn run_in_vm(
    jobs: &[JobSpec],
    (probe, suite_bin): &(PathBuf, PathBuf),
    kernel: Option<&Path>,
    accel: Option<Accel>,
    warm: Option<&WarmSlot>,
    log: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<RawRun> {
    let mut paths = vec![
        (format!("{GUEST_BIN}/probe"), probe.clone()),
        (format!("{GUEST_BIN}/greenroom-suite"), suite_bin.clone()),
    ];
    let mut guest_jobs = Vec::new();
    for job in jobs {
        let guest = format!("{GUEST_BIN}/{}", job.tag);
        paths.push((guest.clone(), job.runtime.clone()));
        guest_jobs.push(suite::protocol::Job {
            tag: job.tag.clone(),
            chapter: job.chapter,
            only: job.only,
            tests: job.tests.clone(),
            runtime: guest,
        });
    }
    let request = Request {
        probe: format!("{GUEST_BIN}/probe"),
        scratch: GUEST_SCRATCH.into(),
        timeout_secs: PER_TEST_TIMEOUT.as_secs(),
        jobs: guest_jobs,
        // The guest is thrown away: it is the machine the tests may change.
        stand_in_host: false,
    };
    let mut image = GuestImage::prepare(&paths, kernel, accel, progress)?;
    if jobs.iter().any(|job| job.chapter >= CAPSTONE_CHAPTER) {
        image = image.with_capstone(progress)?;
    }
    let accel = image.accel;
    let boot_request = |command| image.request(command, Vec::new(), deadline(jobs, PER_TEST_TIMEOUT), log);
    if let Some(slot) = warm {
        let spinner = Spinner::start(&format!("running the tests in the guest kept up ({accel})"), progress);
        let serve = boot_request(vec!["/greenroom/bin/greenroom-suite".into(), "serve".into()]);
        let graded = crate::warm::grade(slot, &serve, &paths, &request, deadline(jobs, PER_TEST_TIMEOUT));
        spinner.finish();
        match graded {
            Ok((lines, booted)) => return Ok((lines, None, booted)),
            Err(err) => progress(&format!("the guest kept up failed ({err:#}): grading in a fresh one")),
        }
    }
    let spinner = Spinner::start(&format!("booting the guest ({accel}) and running the tests"), progress);
    let outcome = greenroom_vm::boot(&boot_request(vec![
        "/greenroom/bin/greenroom-suite".into(),
        serde_json::to_string(&request)?,
    ]));
    spinner.finish();
    let outcome = outcome?;
    let problem = match outcome.verdict {
        Verdict::Completed { exit_code: 0 } => None,
        Verdict::Completed { exit_code } => Some(format!("the test suite stopped with exit code {exit_code}")),
        Verdict::TimedOut => Some("the guest ran past its deadline and was stopped".to_string()),
        Verdict::Panicked => Some("the guest kernel panicked".to_string()),
        Verdict::NoSentinel => Some("the guest stopped before the tests finished".to_string()),
    };
    Ok((outcome.lines, problem, outcome.qemu_to_ready))
}

fn run_on_host(
    jobs: &[JobSpec],
    (probe, suite_bin): &(PathBuf, PathBuf),
    log: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<RawRun> {
    check_mode(&Mode::Host)?;
    let scratch = std::env::temp_dir().join(format!("greenroom-scratch-{}", std::process::id()));
    let request = Request {
        probe: probe.display().to_string(),
        scratch: scratch.display().to_string(),
        timeout_secs: PER_TEST_TIMEOUT.as_secs(),
        jobs: jobs
            .iter()
            .map(|j| suite::protocol::Job {
                tag: j.tag.clone(),
                chapter: j.chapter,
                only: j.only,
                tests: j.tests.clone(),
                runtime: j.runtime.display().to_string(),
            })
            .collect(),
        // This machine is not thrown away: the suite stands in for it.
        stand_in_host: true,
    };
    let _ = fs::remove_file(log);
    progress("running the tests on this machine (--host)");
    let mut child = Command::new(suite_bin)
        .arg(serde_json::to_string(&request)?)
        .arg(log)
        .spawn()
        .with_context(|| format!("start {}", suite_bin.display()))?;
    let deadline = Instant::now() + deadline(jobs, PER_TEST_TIMEOUT);
    let problem = loop {
        match child.try_wait()? {
            Some(status) if status.success() => break None,
            Some(status) => break Some(format!("the test suite stopped: {status}")),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Some("the test suite ran past its deadline and was stopped".to_string());
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let _ = fs::remove_dir_all(&scratch);
    let text = fs::read_to_string(log).unwrap_or_default();
    Ok((text.lines().map(str::to_string).collect(), problem, None))
}

/// The isolation matrices among the suite's lines, by job tag.
fn isolation_of(lines: &[String]) -> Vec<(String, Isolation)> {
    lines
        .iter()
        .filter_map(|line| match serde_json::from_str::<Line>(line) {
            Ok(Line::Isolation { job, isolation }) => Some((job, isolation)),
            _ => None,
        })
        .collect()
}

/// Joins the suite's lines with the catalog: every planned test gets a
/// result, and one that never reported is an error that says why.
fn collect(jobs: &[JobSpec], lines: &[String], problem: Option<&str>, log: &Path) -> Vec<(String, Vec<Graded>)> {
    let results: Vec<TestResult> = lines
        .iter()
        .filter_map(|line| match serde_json::from_str::<Line>(line) {
            Ok(Line::Result(result)) => Some(result),
            _ => None,
        })
        .collect();
    jobs.iter()
        .map(|job| {
            let graded = suite::tests_named(job.chapter, job.only, &job.tests)
                .into_iter()
                .map(|test| {
                    let found = results.iter().find(|r| r.job == job.tag && r.name == test.name);
                    let result = found.cloned().unwrap_or_else(|| {
                        let why = problem.unwrap_or("the suite never reported this test");
                        let message = format!("no result: {why} (see {})", log.display());
                        TestResult::bare(&job.tag, test.chapter, test.name, Status::Error, message)
                    });
                    Graded { test, result }
                })
                .collect();
            (job.tag.clone(), graded)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobSpec {
        JobSpec { tag: "runtime".into(), chapter: 1, only: true, tests: Vec::new(), runtime: PathBuf::from("/x") }
    }

    fn line(name: &str, status: Status) -> String {
        let result = TestResult::bare("runtime", 1, name, status, String::new());
        serde_json::to_string(&Line::Result(result)).unwrap_or_default()
    }

    #[test]
    fn every_planned_test_gets_a_result() {
        let names: Vec<&str> = suite::tests_for(1, true).iter().map(|t| t.name).collect();
        let lines =
            vec![line(names[0], Status::Pass), "garbage from a dying guest".into(), line(names[1], Status::Fail)];
        let jobs = collect(&[job()], &lines, Some("the guest kernel panicked"), Path::new("x.log"));
        let graded = &jobs[0].1;
        assert_eq!(graded.len(), names.len());
        assert_eq!(graded[0].result.status, Status::Pass);
        assert_eq!(graded[1].result.status, Status::Fail);
        for missing in &graded[2..] {
            assert_eq!(missing.result.status, Status::Error);
            assert!(missing.result.message.contains("the guest kernel panicked"), "{}", missing.result.message);
        }
    }

    #[test]
    fn results_of_another_job_do_not_count() {
        let other = line(suite::tests_for(1, true)[0].name, Status::Pass).replace("\"runtime\"", "\"other\"");
        let jobs = collect(&[job()], &[other], None, Path::new("x.log"));
        assert!(jobs[0].1.iter().all(|g| g.result.status == Status::Error));
    }
}
