//! `checker`: grades a greenroom chapter by running its tests in a
//! throwaway VM.
//!
//! ```text
//! cargo run -p checker -- chapter1              grade chapters 0–1 of your code
//! cargo run -p checker -- chapter1 --only       just chapter 1's tests
//! cargo run -p checker -- chapter1 --solution   grade the reference solution
//! cargo run -p checker -- chapter1 --host       run the tests on this machine (root)
//! cargo run -p checker -- shell chapter1        a root shell in the guest, with your runtime
//! cargo run -p checker -- list                  chapters and your last results
//! cargo run -p checker -- selfcheck             the course checks itself
//! ```

#[macro_use]
mod out;

mod bench;
mod capstone_guest;
mod chapters;
mod class;
mod compile;
mod course;
mod course_check;
mod doctor;
mod export;
mod grade;
mod hint;
mod links;
mod mutants;
mod report;
mod reset;
mod selfcheck;
mod session;
mod shared_deps;
mod shell;
mod state;
mod try_book;
mod unfinished;
mod warm;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use chapters::Chapter;
use grade::Mode;

/// Grades your greenroom chapters by running their tests, as root, inside a
/// throwaway virtual machine.
#[derive(Parser)]
#[command(name = "checker", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// The chapter to grade: chapter0, chapter1, … (its tests and those of
    /// every chapter before it; chapter 7, an OCI runtime, its own).
    chapter: Option<String>,

    /// Run only the tests of that chapter, not those of the chapters before.
    #[arg(long)]
    only: bool,

    /// Grade the reference code in solutions/ instead of yours.
    #[arg(long)]
    solution: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Grade a copy of the solutions with this patch applied; the checker's
    /// own tests use it for deliberately broken runtimes
    /// (checker/tests/fixtures/*.patch).
    #[arg(long, hide = true, value_name = "FILE")]
    patch: Option<PathBuf>,

    /// Run only the test of this name (repeatable); the checker's own
    /// fixture tests use it to run the tests a fixture is about.
    #[arg(long = "test", hide = true, value_name = "NAME")]
    tests: Vec<String>,

    #[command(flatten)]
    place: Place,

    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the tests run.
#[derive(clap::Args, Clone)]
struct Place {
    /// Run the tests directly on this machine instead of in the VM. Needs
    /// root; use it inside the Vagrant box or a throwaway CI machine.
    #[arg(long, global = true)]
    host: bool,

    /// Boot this kernel instead of the cached Debian one (its drivers must be
    /// built in: no modules are loaded).
    #[arg(long, global = true, value_name = "PATH")]
    kernel: Option<PathBuf>,

    /// Force the VM's accelerator instead of probing KVM (also GREENROOM_ACCEL).
    #[arg(long, global = true, value_enum)]
    accel: Option<AccelArg>,

    /// Build for and boot a guest of this architecture (x86_64, aarch64)
    /// instead of the machine's own, under TCG: for maintainers checking
    /// the course on the other architecture (also GREENROOM_ARCH).
    #[arg(long, global = true, hide = true, value_name = "ARCH")]
    target: Option<String>,
}

/// Makes `--target` (or `$GREENROOM_ARCH`) the guest's architecture for
/// this process and the ones it starts (see `greenroom_vm::Arch::guest`),
/// after checking the name.
fn choose_guest_arch(target: Option<&str>) -> Result<()> {
    use greenroom_vm::arch::{Arch, ARCH_VARIABLE};
    let arch = match target {
        Some(name) => name.parse::<Arch>()?,
        None => Arch::from_env()?.unwrap_or_else(Arch::host),
    };
    // Set before any thread starts: nothing else reads the environment yet.
    std::env::set_var(ARCH_VARIABLE, arch.to_string());
    Ok(())
}

#[derive(Subcommand)]
enum Command {
    /// List the chapters, their points, and your last result for each.
    List,
    /// Check the course itself: every solution passes every test, and every
    /// test of chapter N fails on chapter N's starter.
    Selfcheck {
        /// Only these chapters (as in `chapter1 chapter3`); all by default.
        chapters: Vec<String>,
    },
    /// Grade CHAPTER again whenever you save a file of chapters/; r grades
    /// now, q quits (GREENROOM_WATCH_POLL=1 polls where file events fail).
    Watch {
        /// The chapter, as in `chapter1`.
        chapter: String,
    },
    /// Show a hint for the first failing test of CHAPTER (or for TEST);
    /// ask again for more.
    Hint {
        /// The chapter, as in `chapter1`.
        chapter: String,
        /// A test's name; by default the first that failed last time.
        test: Option<String>,
    },
    /// Put CHAPTER's starter back as it was (your version is kept beside it).
    Reset {
        /// The chapter, as in `chapter1`.
        chapter: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
    /// Write a small root file system (busybox and the probe) to DIR, to try
    /// `run --rootfs DIR` by hand from chapter 3 on.
    Rootfs {
        /// Where to write it; created if missing.
        dir: PathBuf,
    },
    /// Boot the guest with CHAPTER's runtime, the probe and a ready rootfs,
    /// and give a root shell on its console, to try things by hand and to
    /// paste a report's repeat line into. `exit` powers the guest off.
    Shell {
        /// The chapter, as in `chapter3`.
        chapter: String,
        /// The reference solution's runtime instead of yours.
        #[arg(long)]
        solution: bool,
        /// The solutions with this patch applied (the checker's fixtures).
        #[arg(long, hide = true, value_name = "FILE")]
        patch: Option<PathBuf>,
    },
    /// Time a grading run with nothing to rebuild: build check, boot, tests.
    Bench {
        /// The chapter to grade.
        chapter: String,
        /// How many runs to time.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Time a re-grade in `watch`'s guest kept up instead.
        #[arg(long)]
        watch: bool,
    },
    /// Grade students' checkouts with this grader into one gradebook (CSV
    /// and JSON): of each checkout only chapters/*/src is used, laid over
    /// this grader's own chapters/; one boot of the guest per student.
    GradeClass {
        /// The last chapter to grade: each chapter from 0 to it is graded on its own tests.
        #[arg(long, value_name = "CHAPTER", default_value = "chapter7")]
        up_to: String,
        /// Where to write gradebook.csv, gradebook.json and STUDENT.classroom.json
        /// (default: target/greenroom/gradebook).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The students' checkouts, each a folder with a chapters/ in it.
        #[arg(required = true, value_name = "CHECKOUT")]
        students: Vec<PathBuf>,
    },
    /// Check that this machine can grade: QEMU, the guest kernel, KVM, Rust,
    /// disk space, and with --host what running on this machine needs.
    Doctor,
    /// Maintainer tools.
    #[command(hide = true, subcommand)]
    Dev(Dev),
}

#[derive(Subcommand)]
enum Dev {
    /// Write chapters/ from solutions/ (the starters are generated).
    Split {
        /// Only report files that differ; exit 1 if any do.
        #[arg(long)]
        check: bool,
    },
    /// Check the course against its chapter table (suite::chapters::CHAPTERS):
    /// workspace members, package names, the book's summary, pages and
    /// anchors, the README's chapter table, the tests' names, hints and
    /// points, and the starter guidance in solutions/. Exit 1 on any problem.
    Check,
    /// Check the book's links offline: every relative link of book/src
    /// names a file that exists, every #anchor a heading. Exit 1 on any
    /// broken one.
    Links,
    /// Boot chapter 7's guest (podman, conmon, crun, runc) and run a shell
    /// command in it as root: `dev capstone-guest 'podman run --rm localhost/busybox true'`.
    CapstoneGuest {
        /// The command, for `sh -c`.
        command: String,
        /// Host files (a runtime to try) to put in the guest's /greenroom/bin, on its PATH.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Write the course as a student or a classroom template gets it to DIR
    /// (no solutions/, no maintainers' tests, a pristine copy of the
    /// starters for `reset`), then run the leak check on it.
    ExportStudent {
        /// A new or empty folder.
        dir: PathBuf,
    },
    /// Look for every line of the answers (the SOLUTION blocks of
    /// solutions/) in the files under DIR, an exported course. Exit 1 on
    /// any found.
    LeakCheck {
        /// The exported course.
        dir: PathBuf,
    },
    /// Run every by-hand block of the book ("Try it by hand", "Your
    /// runtime, by hand") in its chapter's guest, with the reference
    /// runtime, and compare each command's output with its page. Exit 1
    /// on any difference.
    TryBook {
        /// The chapters whose pages to run (`chapter1` …); all by default.
        chapters: Vec<String>,
        /// Write the guest's output into the pages where it differs (then
        /// review the diff: a changed output may be a bug).
        #[arg(long)]
        bless: bool,
    },
    /// Grade mutants of the solutions (cargo-mutants lists them; `cargo
    /// install cargo-mutants --locked`): each is graded like a fixture at
    /// its own chapter, in one guest kept up. Prints caught/missed per
    /// chapter and function, and every survivor's diff; exit 1 when a
    /// survivor inside a SOLUTION block is not on checker/mutants-accepted.toml.
    Mutants {
        /// The chapters whose crates to mutate (`chapter5` …); all by default.
        chapters: Vec<String>,
        /// Only the mutants inside SOLUTION blocks (the learner's part).
        #[arg(long)]
        in_solution: bool,
        /// Only the mutants of what changed since REV: the solutions' files
        /// it touched, and every mutant of a chapter whose tests it touched.
        #[arg(long, value_name = "REV")]
        changed_since: Option<String>,
        /// Grade only N mutants, picked by --seed (after the other filters).
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
        /// The seed that picks the sample: the same seed, the same mutants.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// List the chosen mutants without grading them.
        #[arg(long)]
        list: bool,
        /// Grade with the mutant's own chapter's tests only; by default a
        /// survivor of them is graded again with the earlier chapters'
        /// tests too, as `checker chapterN` runs them.
        #[arg(long)]
        own_tests_only: bool,
        /// Do not grade the unchanged solution of each chapter first.
        #[arg(long)]
        no_baseline: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = MutantsFormat::Human)]
        format: MutantsFormat,
    },
}

/// How `dev mutants` reports.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MutantsFormat {
    /// Figures per chapter and function, and each survivor's diff.
    Human,
    /// One JSON object: the figures and every mutant.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A report for people.
    Human,
    /// One JSON object (see the book's "How grading works").
    Json,
    /// JUnit XML, one testsuite per chapter.
    Junit,
    /// The JSON GitHub Classroom's autograding reporter reads.
    Classroom,
}

#[derive(Clone, Copy, ValueEnum)]
enum AccelArg {
    Kvm,
    Tcg,
}

impl Place {
    fn mode(&self) -> Mode {
        if self.host {
            Mode::Host
        } else {
            let accel = self.accel.map(|a| match a {
                AccelArg::Kvm => greenroom_vm::Accel::Kvm,
                AccelArg::Tcg => greenroom_vm::Accel::Tcg,
            });
            Mode::Vm { kernel: self.kernel.clone(), accel, warm: None }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = choose_guest_arch(cli.place.target.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(what) = maintainers_only(&cli).filter(|_| !compile::repo_root().join("solutions").is_dir()) {
        eprintln!(
            "greenroom: {what} is for the course's maintainers: it needs solutions/, which this student copy has not"
        );
        return ExitCode::from(125);
    }
    let outcome = match (&cli.command, &cli.chapter) {
        (Some(Command::List), _) => list(),
        (Some(Command::Doctor), _) => doctor::run(cli.place.host),
        (Some(Command::Selfcheck { chapters }), _) => chapters
            .iter()
            .map(|c| parse(c))
            .collect::<Result<Vec<_>>>()
            .and_then(|only| selfcheck::run(&only, &cli.place.mode(), &mut progress)),
        (Some(Command::Bench { chapter, runs, watch }), _) => chapters::parse_chapter(chapter)
            .map_err(anyhow::Error::msg)
            .and_then(|c| bench::run(c, *runs, &cli.place.mode(), *watch)),
        (Some(Command::Dev(Dev::Split { check })), _) => split(*check),
        (Some(Command::Dev(Dev::Check)), _) => dev_check(),
        (Some(Command::Dev(Dev::Links)), _) => dev_links(),
        (Some(Command::Dev(Dev::CapstoneGuest { command, files })), _) => {
            capstone_guest::run(command, files, &cli.place.mode(), &mut progress)
        }
        (Some(Command::Dev(Dev::ExportStudent { dir })), _) => export::run_export(&compile::repo_root(), dir),
        (Some(Command::Dev(Dev::LeakCheck { dir })), _) => export::run_leak_check(&compile::repo_root(), dir),
        (Some(Command::Dev(dev @ Dev::Mutants { .. })), _) => dev_mutants(dev, &cli.place.mode()),
        (Some(Command::Dev(Dev::TryBook { chapters, bless })), _) => match parse_chapters(chapters) {
            Ok(chapters) => try_book::run(&chapters, *bless, &cli.place.mode(), &mut progress),
            Err(code) => Ok(code),
        },
        (Some(Command::Rootfs { dir }), _) => write_rootfs(dir),
        (Some(Command::GradeClass { up_to, out, students }), _) => {
            let out = out.clone().unwrap_or_else(|| compile::work_dir().join("gradebook"));
            parse(up_to).and_then(|up_to| class::run(up_to, students, &out, &cli.place.mode(), &mut progress))
        }
        (Some(Command::Shell { chapter, solution, patch }), _) => parse(chapter).and_then(|c| {
            let source = shell::Runtime::of(*solution, patch.as_deref());
            shell::run(c, &source, &cli.place.mode(), &mut progress)
        }),
        (Some(Command::Hint { chapter, test }), _) => parse(chapter).and_then(|c| hint::run(c, test.as_deref())),
        (Some(Command::Reset { chapter, yes }), _) => parse(chapter).and_then(|c| reset::run(c, *yes)),
        (Some(Command::Watch { chapter }), _) => parse(chapter).and_then(|chapter| {
            let request = session::Request {
                chapter,
                only: false,
                solution: false,
                patch: None,
                tests: Vec::new(),
                mode: cli.place.mode(),
            };
            watch::run(&request)
        }),
        (None, Some(chapter)) => {
            chapters::parse_chapter(chapter).map_err(anyhow::Error::msg).and_then(|c| grade(&cli, c))
        }
        (None, None) => {
            Err(anyhow::anyhow!("say which chapter to grade, as in `cargo run -p checker -- chapter0` (or `list`)"))
        }
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("greenroom: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The command asked for, named, when it needs the reference solution:
/// `--solution`, `--patch`, `selfcheck`, `bench` (which times the
/// solution) and every `dev` command.
fn maintainers_only(cli: &Cli) -> Option<&'static str> {
    match &cli.command {
        Some(Command::Selfcheck { .. }) => Some("`checker selfcheck`"),
        Some(Command::Bench { .. }) => Some("`checker bench`"),
        Some(Command::Dev(_)) => Some("`checker dev`"),
        Some(Command::Shell { solution: true, .. }) => Some("`checker shell --solution`"),
        Some(Command::Shell { patch: Some(_), .. }) => Some("`checker shell --patch`"),
        None if cli.solution => Some("`--solution`"),
        None if cli.patch.is_some() => Some("`--patch`"),
        _ => None,
    }
}

/// The chapters named on the command line, in order and each once; all of
/// them when none is named. Bad input: a clear line and exit 125.
fn parse_chapters(texts: &[String]) -> Result<Vec<&'static Chapter>, ExitCode> {
    if texts.is_empty() {
        return Ok(suite::chapters::CHAPTERS.iter().collect());
    }
    let mut parsed: Vec<&'static Chapter> = Vec::new();
    for text in texts {
        match chapters::parse_chapter(text) {
            Ok(chapter) if !parsed.iter().any(|c| c.number == chapter.number) => parsed.push(chapter),
            Ok(_) => {}
            Err(err) => {
                eprintln!("greenroom: {err}");
                return Err(ExitCode::from(125));
            }
        }
    }
    Ok(parsed)
}

fn parse(chapter: &str) -> Result<&'static Chapter> {
    chapters::parse_chapter(chapter).map_err(anyhow::Error::msg)
}

/// Progress goes to stderr, so stdout stays clean for `--format json`.
fn progress(line: &str) {
    eprintln!("» {line}");
}

fn grade(cli: &Cli, chapter: &'static Chapter) -> Result<ExitCode> {
    let known = suite::tests_for(chapter.number, cli.only);
    if let Some(name) = cli.tests.iter().find(|name| !known.iter().any(|t| t.name == name.as_str())) {
        anyhow::bail!("--test {name}: chapter {} has no such test (checker list shows the chapters)", chapter.number);
    }
    let request = session::Request {
        chapter,
        only: cli.only,
        solution: cli.solution,
        patch: cli.patch.clone(),
        tests: cli.tests.clone(),
        mode: cli.place.mode(),
    };
    let outcome = match session::grade(&request, &mut progress) {
        Ok(outcome) => outcome,
        // A script still gets a report it can read: every test an error.
        Err(err) if matches!(cli.format, Format::Json | Format::Junit | Format::Classroom) => {
            let outcome = session::Outcome::not_graded(chapter, cli.only, &format!("{err:#}"));
            out!("{}", render(&outcome.summary(), cli.format));
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let summary = outcome.summary();
    out!("{}", render(&summary, cli.format));
    Ok(if summary.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The report in the chosen format.
fn render(summary: &report::Summary, format: Format) -> String {
    match format {
        Format::Human => report::human(summary, report::Style::for_stdout()),
        Format::Json => format!("{}\n", report::json(summary)),
        Format::Junit => report::junit(summary),
        Format::Classroom => format!("{}\n", report::classroom(summary)),
    }
}

fn list() -> Result<ExitCode> {
    let state = state::load(&state::state_path());
    // The layer, whose length varies most, last: the other columns stay aligned.
    outln!("{:<10} {:<8} {:>6}  {:<22} {:<10} layer", "chapter", "crate", "points", "last result", "challenges");
    for chapter in chapters::CHAPTERS {
        // Grading chapter N runs the tests of chapters 0..=N: count them all,
        // but a challenge's points apart (each is graded with its own chapter).
        let tests = suite::tests_for(chapter.number, false);
        let points: u32 = tests.iter().filter(|t| !t.challenge).map(|t| t.points).sum();
        let challenge_points: u32 = tests.iter().filter(|t| t.challenge).map(|t| t.points).sum();
        let challenges = match (challenge_points, state.chapters.get(&chapter.number)) {
            (0, _) => "-".to_string(),
            (possible, Some(r)) => format!("{}/{possible}", r.challenge_score),
            (possible, None) => format!("-/{possible}"),
        };
        let last = match state.chapters.get(&chapter.number) {
            Some(r) => {
                let score = format!("{}/{}", r.score, r.max_score);
                let score = if r.passed { format!("passed ({score})") } else { score };
                // An --only grading ran the chapter's own tests alone.
                if r.only {
                    format!("{score} --only")
                } else {
                    score
                }
            }
            None => "not graded yet".to_string(),
        };
        outln!(
            "chapter{:<3} {:<8} {points:>6}  {last:<22} {challenges:<10} {}",
            chapter.number,
            chapter.package,
            chapter.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_rootfs(dir: &std::path::Path) -> Result<ExitCode> {
    let (probe, _) = compile::build_tools()?;
    // The guest's busybox is static and already cached; fetch it if need be.
    let assets = greenroom_vm::ensure_assets(&greenroom_vm::default_cache_dir(), None, &mut progress)?;
    suite::rootfs::write_rootfs_with(dir, &probe, &assets.busybox).map_err(anyhow::Error::msg)?;
    // The runtime wants an absolute --rootfs: print the one to paste.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    outln!("wrote a busybox rootfs to {0}\ntry it (chapter 3 on): sudo chapters/target/debug/rootfs run --rootfs {0} -- /bin/sh", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn split(check: bool) -> Result<ExitCode> {
    let root = compile::repo_root();
    let (solutions, chapters) = (root.join("solutions"), root.join("chapters"));
    if check {
        let drift = course::starter_drift(&solutions, &chapters)?;
        for line in &drift {
            outln!("{line}");
        }
        return Ok(if drift.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    for relative in course::course_files(&solutions)? {
        course::write_if_changed(&chapters.join(&relative), &course::starter_file(&solutions, &relative)?)?;
    }
    outln!("wrote the starters in {}", chapters.display());
    Ok(ExitCode::SUCCESS)
}

fn dev_mutants(dev: &Dev, mode: &grade::Mode) -> Result<ExitCode> {
    let Dev::Mutants { chapters, in_solution, changed_since, sample, seed, list, own_tests_only, no_baseline, format } =
        dev
    else {
        return Ok(ExitCode::SUCCESS);
    };
    // Bad input: a clear line and exit 125, before anything is built.
    let parsed = match parse_chapters(chapters) {
        Ok(parsed) => parsed,
        Err(code) => return Ok(code),
    };
    if let Some(rev) = changed_since {
        let known = std::process::Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
            .current_dir(compile::repo_root())
            .output()
            .is_ok_and(|o| o.status.success());
        if !known {
            eprintln!("greenroom: --changed-since {rev}: git knows no such commit here");
            return Ok(ExitCode::from(125));
        }
    }
    if *sample == Some(0) {
        eprintln!("greenroom: --sample 0 grades nothing: give at least 1");
        return Ok(ExitCode::from(125));
    }
    let options = mutants::Options {
        chapters: parsed,
        in_solution: *in_solution,
        changed_since: changed_since.clone(),
        sample: *sample,
        seed: *seed,
        list_only: *list,
        own_tests_only: *own_tests_only,
        no_baseline: *no_baseline,
        json: *format == MutantsFormat::Json,
    };
    mutants::run(&options, mode, &mut progress)
}

fn dev_links() -> Result<ExitCode> {
    let src = compile::repo_root().join("book").join("src");
    let broken = links::check(&src).map_err(|e| anyhow::anyhow!("read {}: {e}", src.display()))?;
    for link in &broken {
        outln!("book/src/{link}");
    }
    if broken.is_empty() {
        outln!("every link of book/src resolves");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("{} broken link(s)", broken.len());
        Ok(ExitCode::FAILURE)
    }
}

fn dev_check() -> Result<ExitCode> {
    let table = course_check::table();
    let problems = course_check::check(&compile::repo_root(), &table);
    for problem in &problems {
        outln!("{problem}");
    }
    if problems.is_empty() {
        let tests: usize = table.iter().map(|c| c.tests.len()).sum();
        outln!("the course matches its table: {} chapters, {tests} tests", table.len());
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("{} problem(s); the chapter table is checker/suite/src/chapters/mod.rs", problems.len());
        Ok(ExitCode::FAILURE)
    }
}
