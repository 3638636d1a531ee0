//! `greenroom-suite REQUEST-JSON [OUT]`: runs the graded tests and writes one
//! JSON line per result to OUT, or to the file named by `$GREENROOM_RESULTS`
//! (the guest's results port). The checker starts it; it is not meant to be
//! run by hand.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use suite::protocol::{Job, Line, Request, Status, TestResult};
use suite::{sandbox, Ctx, Failure, TestCase};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(request), out) = (args.first(), args.get(1).cloned().or_else(|| std::env::var("GREENROOM_RESULTS").ok()))
    else {
        eprintln!("usage: greenroom-suite REQUEST-JSON [OUT] (the checker runs this for you)");
        return ExitCode::from(2);
    };
    let Some(out) = out else {
        eprintln!("greenroom-suite: no output: pass OUT or set GREENROOM_RESULTS");
        return ExitCode::from(2);
    };
    match serde_json::from_str::<Request>(request) {
        Ok(request) => match run_all(&request, Path::new(&out)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("greenroom-suite: {err}");
                ExitCode::from(1)
            }
        },
        Err(err) => {
            eprintln!("greenroom-suite: bad request: {err}");
            ExitCode::from(2)
        }
    }
}

fn run_all(request: &Request, out: &Path) -> std::io::Result<()> {
    let mut out = File::options().append(true).create(true).open(out)?;
    let cgroup = sandbox::suite_cgroup();
    let scratch = PathBuf::from(&request.scratch);
    for job in &request.jobs {
        let tests = suite::tests_for(job.chapter, job.only);
        let plan =
            Line::Plan { job: job.tag.clone(), tests: tests.iter().map(|t| (t.chapter, t.name.into())).collect() };
        emit(&mut out, &plan)?;
        for test in tests {
            let result = run_one(request, job, &test, &scratch.join(&job.tag).join(test.name), cgroup.clone());
            emit(&mut out, &Line::Result(result))?;
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    if let Some(dir) = cgroup {
        sandbox::remove_suite_cgroup(&dir);
    }
    Ok(())
}

fn run_one(request: &Request, job: &Job, test: &TestCase, scratch: &Path, cgroup: Option<PathBuf>) -> TestResult {
    let started = Instant::now();
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let _ = fs::remove_dir_all(scratch);
    let mut ctx = Ctx::new(
        Path::new(&job.runtime),
        Path::new(&request.probe),
        scratch,
        Duration::from_secs(request.timeout_secs),
        cgroup,
    );
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
    let outcome = match (outcome, sandbox::repair_host_proc()) {
        (Ok(()), true) => Err(Failure::fail(
            "the container's /proc was mounted over the host's /proc and stayed there: make every mount \
             private (MS_REC | MS_PRIVATE) before mounting anything",
        )),
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

fn emit(out: &mut File, line: &Line) -> std::io::Result<()> {
    let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
    text.push('\n');
    out.write_all(text.as_bytes())?;
    out.flush()
}
