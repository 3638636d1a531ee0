//! `greenroom-suite REQUEST-JSON [OUT]`: runs the graded tests and writes one
//! JSON line per result to OUT, or to the file named by `$GREENROOM_RESULTS`
//! (the guest's results port). `greenroom-suite serve` does the same for
//! every order the host sends over that port (see [`serve`]), and
//! `greenroom-suite rootfs DIR PROBE` writes a rootfs for the guest's shell,
//! and `greenroom-suite try-book SESSIONS` runs the book's by-hand blocks.
//! The checker starts it; it is not meant to be run by hand.
//!
//! Tests run side by side, one per CPU, with the isolation matrix's run
//! among them, except those marked [`TestCase::alone`], which run one at a
//! time at the end (see [`schedule`]).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use suite::ctx::SharedReports;
use suite::protocol::{Job, Line, Order, Request, Status, TestResult, Upload};
use suite::rootfs::Template;
use suite::{sandbox, Ctx, Failure, TestCase};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `greenroom-suite rootfs DIR PROBE`: the ready rootfs of the guest's
    // shell (`checker shell`), made as the tests make theirs.
    if let [command, dir, probe] = args.as_slice() {
        if command == "rootfs" {
            return match suite::rootfs::write_rootfs(Path::new(dir), Path::new(probe)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("greenroom-suite rootfs: {err}");
                    ExitCode::from(1)
                }
            };
        }
    }
    // `greenroom-suite try-book SESSIONS-JSON`: the book's by-hand blocks
    // (`checker dev try-book`), each command's output to the results port.
    if let [command, sessions] = args.as_slice() {
        if command == "try-book" {
            return match try_book(Path::new(sessions)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("greenroom-suite try-book: {err}");
                    ExitCode::from(1)
                }
            };
        }
    }
    let out = args.get(1).cloned().or_else(|| std::env::var("GREENROOM_RESULTS").ok());
    let (Some(request), Some(out)) = (args.first(), out) else {
        eprintln!("usage: greenroom-suite REQUEST-JSON [OUT] | serve (the checker runs this for you)");
        eprintln!("the output is OUT, or the file named by GREENROOM_RESULTS");
        return ExitCode::from(2);
    };
    if request == "serve" {
        return match serve(Path::new(&out)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("greenroom-suite serve: {err}");
                ExitCode::from(1)
            }
        };
    }
    let opened = File::options().append(true).create(true).open(&out);
    match (serde_json::from_str::<Request>(request), opened) {
        (Ok(request), Ok(out)) => match run_where_asked(&request, out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("greenroom-suite: {err}");
                ExitCode::from(1)
            }
        },
        (Err(err), _) => {
            eprintln!("greenroom-suite: bad request: {err}");
            ExitCode::from(2)
        }
        (_, Err(err)) => {
            eprintln!("greenroom-suite: open {out}: {err}");
            ExitCode::from(2)
        }
    }
}

/// Runs the sessions in the file `sessions` and writes each command's
/// output to the results port.
fn try_book(sessions: &Path) -> std::io::Result<()> {
    let sessions: Vec<suite::try_book::Session> =
        serde_json::from_slice(&fs::read(sessions)?).map_err(std::io::Error::other)?;
    let port = std::env::var("GREENROOM_RESULTS").map_err(|_| std::io::Error::other("GREENROOM_RESULTS is not set"))?;
    let mut out = File::options().append(true).open(port)?;
    suite::try_book::run(&sessions, &mut out)
}

/// Runs `request`, with `--host` in namespaces that stand in for the
/// machine. They are entered while the suite is still one thread
/// (`unshare` of a mount namespace refuses a process that has others).
fn run_where_asked(request: &Request, out: File) -> std::io::Result<()> {
    if !request.stand_in_host {
        return run_all(request, out);
    }
    let stand_in = suite::stand_in::enter().map_err(std::io::Error::other)?;
    let ran = run_all(request, out);
    stand_in.leave();
    ran
}

/// `greenroom-suite serve`: in a guest kept up between gradings, takes
/// orders from the host on the results port (`port`, both ways) until told
/// to quit. Each order brings new files (the runtime just rebuilt) and a
/// request; the results go back as they would from a fresh guest, then a
/// `Done` line. A run that left the guest changed ends the service, so the
/// guest powers off and the host boots a fresh one.
fn serve(port: &Path) -> std::io::Result<()> {
    // A virtio port may be open once only: one descriptor, both ways.
    let port = File::options().read(true).write(true).open(port)?;
    let mut orders = BufReader::new(port.try_clone()?);
    let mut answers = Emitter { out: port.try_clone()? };
    let fresh = sandbox::MachineState::capture();
    loop {
        answers.emit(&Line::Listening)?;
        let mut order = String::new();
        if orders.read_line(&mut order)? == 0 {
            return Ok(());
        }
        let (files, request) = match serde_json::from_str::<Order>(&order) {
            Ok(Order::Grade { files, request }) => (files, request),
            Ok(Order::Quit) => return Ok(()),
            Err(err) => return Err(std::io::Error::other(format!("bad order: {err}"))),
        };
        for upload in &files {
            receive(&mut orders, upload)?;
        }
        run_all(&request, port.try_clone()?)?;
        let clean = sandbox::MachineState::capture() == fresh;
        answers.emit(&Line::Done { clean })?;
        if !clean {
            return Ok(());
        }
    }
}

/// Reads `upload.len` bytes from `orders` into a new executable file at
/// `upload.path`, replacing the old one only once it is complete.
fn receive(orders: &mut impl BufRead, upload: &Upload) -> std::io::Result<()> {
    let path = Path::new(&upload.path);
    let partial = path.with_extension("partial");
    let mut file = File::options().write(true).create(true).truncate(true).mode(0o755).open(&partial)?;
    let copied = std::io::copy(&mut orders.take(upload.len), &mut file)?;
    if copied != upload.len {
        return Err(std::io::Error::other(format!("{}: {copied} of {} bytes arrived", upload.path, upload.len)));
    }
    drop(file);
    fs::rename(&partial, path)
}

/// The template rootfs's folder in a job's scratch directory: not a test's
/// name, since test names have no dots.
const ROOTFS_TEMPLATE: &str = ".rootfs-template";

fn run_all(request: &Request, out: File) -> std::io::Result<()> {
    let cgroup = sandbox::suite_cgroup();
    let scratch = PathBuf::from(&request.scratch);
    // The guest's own hostname, put back after any test that changed it.
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let side_by_side = std::thread::available_parallelism().map_or(1, usize::from);
    let mut writer = Emitter { out };
    for job in &request.jobs {
        let tests = suite::tests_named(job.chapter, job.only, &job.tests);
        let plan =
            Line::Plan { job: job.tag.clone(), tests: tests.iter().map(|t| (t.chapter, t.name.into())).collect() };
        writer.emit(&plan)?;
        let template =
            Arc::new(Template::new(&scratch.join(&job.tag).join(ROOTFS_TEMPLATE), Path::new(&request.probe)));
        let shared = Arc::new(SharedReports::default());
        let run = |test: &TestCase| {
            let scratch = scratch.join(&job.tag).join(test.name);
            let ctx = Ctx::new(
                Path::new(&job.runtime),
                Path::new(&request.probe),
                &scratch,
                Duration::from_secs(request.timeout_secs),
                cgroup.clone(),
            )
            .with_run_names(&format!("{}.{}", job.tag, test.name))
            .with_rootfs_template(template.clone())
            .with_shared_reports(shared.clone());
            run_one(ctx, job, test, &scratch, &hostname)
        };
        let isolation = || {
            let scratch = scratch.join(&job.tag).join("isolation-matrix");
            let isolation = measure_isolation(request, job, &scratch, &template, cgroup.as_deref());
            Line::Isolation { job: job.tag.clone(), isolation }
        };
        // From chapter 6 on, a runtime makes cgroups of its own, chapter
        // 7's where the config says (the matrix's config: at the top of the
        // hierarchy, beside the tests' own): there, it runs after them all.
        if job.chapter < 6 {
            schedule(&tests, side_by_side, run, Some(isolation), &mut writer)?;
        } else {
            schedule(&tests, side_by_side, run, None::<fn() -> Line>, &mut writer)?;
            writer.emit(&isolation())?;
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    if let Some(dir) = cgroup {
        sandbox::remove_suite_cgroup(&dir);
    }
    Ok(())
}

/// Writes the suite's lines to the results file or port.
struct Emitter {
    out: File,
}

impl Emitter {
    fn emit(&mut self, line: &Line) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// Runs `tests`: first those that may run side by side, on up to `workers`
/// threads, taken in plan order after `beside` if given (the isolation
/// matrix's run, which needs no quiet machine); then, one at a time with nothing
/// else running, those marked [`TestCase::alone`]. Lines are written as
/// they come, so not in plan order: the checker matches them by name.
fn schedule(
    tests: &[TestCase],
    workers: usize,
    run: impl Fn(&TestCase) -> TestResult + Sync,
    beside: Option<impl FnOnce() -> Line + Send>,
    writer: &mut Emitter,
) -> std::io::Result<()> {
    let (alone, together): (Vec<&TestCase>, Vec<&TestCase>) = tests.iter().partition(|t| t.alone);
    // Whichever worker is free first takes `beside`, then tests.
    let beside = std::sync::Mutex::new(beside);
    let next = AtomicUsize::new(0);
    let (finished, lines) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, together.len().max(1)) {
            let finished = finished.clone();
            let (next, together, run, beside) = (&next, &together, &run, &beside);
            scope.spawn(move || {
                let first = beside.lock().ok().and_then(|mut beside| beside.take());
                if let Some(beside) = first {
                    if finished.send(beside()).is_err() {
                        return;
                    }
                }
                while let Some(test) = together.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if finished.send(Line::Result(run(test))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(finished);
        // Written here, on one thread, as they come; if writing fails, the
        // workers stop at their next test.
        for line in lines {
            writer.emit(&line)?;
        }
        Ok::<(), std::io::Error>(())
    })?;
    for test in alone {
        writer.emit(&Line::Result(run(test)))?;
    }
    Ok(())
}

/// The job's isolation matrix, from one more run of its runtime. Its cgroup
/// has no limits of its own (so that the limits the matrix finds are the
/// runtime's own) but sits in one that has them: it runs beside the tests,
/// and a runtime that fork-bombs must not take the guest from them.
fn measure_isolation(
    request: &Request,
    job: &Job,
    scratch: &Path,
    template: &Arc<Template>,
    cgroup: Option<&Path>,
) -> suite::isolation::Isolation {
    let _ = fs::remove_dir_all(scratch);
    if let Err(e) = fs::create_dir_all(scratch) {
        return suite::isolation::Isolation::unmeasured(format!("create {}: {e}", scratch.display()));
    }
    let timeout = Duration::from_secs(request.timeout_secs);
    let mut ctx = Ctx::new(Path::new(&job.runtime), Path::new(&request.probe), scratch, timeout, None)
        .with_rootfs_template(template.clone())
        .with_run_names("isolation-matrix");
    let leash = cgroup.map(|parent| sandbox::RunCgroup::create(parent, &format!("{}.isolation-matrix", job.tag)));
    let leash = match leash.transpose() {
        Ok(leash) => leash,
        Err(e) => return suite::isolation::Isolation::unmeasured(format!("create the run's cgroup: {e}")),
    };
    if let Some(leash) = &leash {
        ctx = ctx.with_limits_above(leash);
    }
    let isolation = suite::isolation::measure(&mut ctx, job.chapter);
    let _ = fs::remove_dir_all(scratch);
    isolation
}

fn run_one(mut ctx: Ctx, job: &Job, test: &TestCase, scratch: &Path, hostname: &str) -> TestResult {
    let started = Instant::now();
    let _ = fs::remove_dir_all(scratch);
    let outcome = match fs::create_dir_all(scratch) {
        Err(e) => Err(Failure::error(format!("create {}: {e}", scratch.display()))),
        Ok(()) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (test.run)(&mut ctx)))
            .unwrap_or_else(|_| Err(Failure::error("the test itself panicked: this is a bug in greenroom"))),
    };
    // A runtime that renamed the host must not spoil the tests after it.
    if fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default() != hostname {
        let _ = fs::write("/proc/sys/kernel/hostname", hostname.trim_end());
    }
    // Nor one whose /proc leaked onto the host's: that is this test's
    // failure, and the leak is undone so the next test sees the real /proc.
    // The leak is named even when the test failed on its own: a leaked
    // /proc also lands on every container started meanwhile (their mounts
    // are its peers), so what the test saw depends on which one came last,
    // and the leak is the cause to point at.
    const LEAKED: &str = "the container's /proc was mounted over the host's /proc and stayed there: make every \
                          mount private (MS_REC | MS_PRIVATE) before mounting anything";
    const NO_MOUNT_NS: &str = "the container's /proc was mounted over the host's /proc, in the host's own mount \
                               namespace (the host's mounts were made private, so no propagation brought it): a \
                               new PID namespace needs a mount namespace of its own too (CLONE_NEWNS)";
    let repaired = sandbox::repair_host_proc();
    let leaked = if repaired && !sandbox::host_proc_shared() { NO_MOUNT_NS } else { LEAKED };
    let outcome = match (outcome, repaired) {
        (Ok(()), true) => Err(Failure::fail(leaked)),
        (Err(failure), true) if failure.status == Status::Fail => {
            Err(Failure { message: format!("{leaked} (the test also saw: {})", failure.message), ..failure })
        }
        (outcome, _) => outcome,
    };
    let _ = fs::remove_dir_all(scratch);
    let (status, message, expected, actual) = match outcome {
        Ok(()) => (Status::Pass, String::new(), None, None),
        Err(failure) => (failure.status, failure.message, failure.expected, failure.actual),
    };
    TestResult {
        job: job.tag.clone(),
        chapter: test.chapter,
        name: test.name.to_string(),
        status,
        message,
        expected,
        actual,
        reproduce: ctx.last_command.take(),
        duration_ms: started.elapsed().as_millis() as u64,
    }
}
