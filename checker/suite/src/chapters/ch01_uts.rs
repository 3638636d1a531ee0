//! Chapter 1 — uts: a UTS namespace and a validated `--hostname`.

use crate::ctx::{expect_eq, Ctx, Failure};
use crate::TestCase;

/// Chapter 1's tests.
pub fn tests() -> Vec<TestCase> {
    let test = |name, points, title, hint, book, run| TestCase {
        chapter: 1,
        name,
        points,
        title,
        hint,
        book,
        run,
        alone: false,
    };
    vec![
        test(
            "hostname-set-inside",
            2,
            "`--hostname rock-band` gives the container that hostname",
            "call sethostname in the child (enter_child), after clone has put it in a new UTS namespace",
            "ch01-uts.md#the-layer",
            hostname_set_inside,
        ),
        test(
            "own-uts-namespace",
            2,
            "the container has a UTS namespace of its own, with or without --hostname",
            "return CLONE_NEWUTS from the layer's clone_flags",
            "ch01-uts.md#the-layer",
            own_uts_namespace,
        ),
        test(
            "host-hostname-unchanged",
            2,
            "setting the container's hostname leaves the host's hostname alone",
            "sethostname changes the hostname of the UTS namespace you are in: call it in the child, \
             inside the new namespace, never in the parent",
            "ch01-uts.md#the-layer",
            host_hostname_unchanged,
        )
        .run_alone(),
        test(
            "invalid-hostname-refused",
            2,
            "an invalid hostname is refused with exit code 125 before anything runs",
            "check the name in Hostname::parse before cloning, and return an error: main turns it into 125",
            "ch01-uts.md#valid-hostnames",
            invalid_hostname_refused,
        ),
        test(
            "longest-hostname-accepted",
            1,
            "a valid 64-byte hostname with dots is accepted and set exactly",
            "the limit is 64 bytes for the whole name and 63 for each part between dots",
            "ch01-uts.md#valid-hostnames",
            longest_hostname_accepted,
        ),
    ]
}

/// The hostname of the namespace the suite runs in: the "host" as far as
/// the container is concerned.
fn host_hostname() -> Result<String, Failure> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim_end().to_string())
        .map_err(|e| Failure::error(format!("read the host's hostname: {e}")))
}

fn hostname_set_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.report(&["--hostname", "rock-band"])?;
    expect_eq("the hostname inside the container", Some("rock-band"), report.hostname.as_deref())
}

fn own_uts_namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let host = crate::ctx::host_namespace("uts")?;
    for flags in [&["--hostname", "drama-club"][..], &[][..]] {
        let report = ctx.report(flags)?;
        let inside = report.namespaces.get("uts").cloned().unwrap_or_default();
        if inside == host {
            return Err(Failure::fail("the container shares the host's UTS namespace")
                .compare(format!("anything but {host}"), inside));
        }
    }
    Ok(())
}

fn host_hostname_unchanged(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = host_hostname()?;
    let report = ctx.report(&["--hostname", "drama-club"])?;
    let after = host_hostname()?;
    expect_eq("the container's hostname", Some("drama-club"), report.hostname.as_deref())?;
    expect_eq("the host's hostname after the container ran", before, after)
}

fn invalid_hostname_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let marker = ctx.scratch_path("command-ran");
    let too_long = "a".repeat(65);
    // One of each kind of mistake: a hyphen at an edge, a bad character, an
    // empty name, an empty label, too long. (`Hostname::parse`'s unit tests
    // cover the rest without a VM.)
    for name in ["-rock-band", "rock_band", "", "a..b", too_long.as_str()] {
        let run = ctx.run(&["--hostname", name], &[&probe, "touch", &marker])?;
        run.expect_code(125, &format!("--hostname {name:?} is invalid and should be refused with exit code 125"))?;
        if std::path::Path::new(&marker).exists() {
            return Err(Failure::fail(format!("the command ran although --hostname {name:?} is invalid")));
        }
        if !run.stderr.to_lowercase().contains("hostname") {
            return Err(Failure::fail("the error message should say that the hostname is the problem")
                .compare("a message on stderr mentioning \"hostname\"", run.stderr.clone()));
        }
    }
    Ok(())
}

fn longest_hostname_accepted(ctx: &mut Ctx) -> Result<(), Failure> {
    let name = format!("{}.{}", "r".repeat(32), "b".repeat(31));
    let report = ctx.report(&["--hostname", &name])?;
    expect_eq("the 64-byte hostname inside the container", Some(name.as_str()), report.hostname.as_deref())
}
