//! The check on the real course, and on small fake courses that each
//! break one thing.

use super::*;

#[test]
#[cfg_attr(student_copy, ignore = "needs solutions/, which only the maintainers' full course has")]
fn the_real_course_matches_its_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let problems = check(&root, &table());
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(listed.is_empty(), "the course is inconsistent:\n{}", listed.join("\n"));
}

#[test]
fn names_must_be_kebab_case() {
    assert!(is_kebab_case("not-found-is-127"));
    for bad in ["", "Exit-code", "exit_code", "exit--code", "-exit", "exit-"] {
        assert!(!is_kebab_case(bad), "{bad:?}");
    }
}

/// A two-chapter course in a temporary directory that passes the check;
/// each test below breaks one thing in it.
struct FakeCourse {
    dir: tempfile::TempDir,
    chapters: Vec<ChapterSpec>,
}

/// A solution's `main.rs` whose learner part is `lines` lines of code.
fn main_rs(lines: usize) -> String {
    format!(
        "fn main() {{\n    // STARTER: todo!(\"run\")\n    // SOLUTION BEGIN\n{}    // SOLUTION END\n}}\n",
        "    run();\n".repeat(lines)
    )
}

fn test_spec(chapter: u8, name: &'static str, book: &'static str) -> TestSpec {
    TestSpec { chapter, name, points: 1, title: "it works", hint: "look at run", book }
}

impl FakeCourse {
    fn new() -> FakeCourse {
        let chapters = vec![
            ChapterSpec {
                number: 0,
                dir: "ch00-spawn",
                package: "spawn",
                title: "spawn",
                book: "ch00-spawn.md",
                tests: vec![test_spec(0, "exit-code-relayed", "ch00-spawn.md#exit-codes")],
            },
            ChapterSpec {
                number: 1,
                dir: "ch01-uts",
                package: "uts",
                title: "uts",
                book: "ch01-uts.md",
                tests: vec![
                    test_spec(1, "hostname-set-inside", "ch01-uts.md#the-layer"),
                    test_spec(1, "uses-spawn", "ch00-spawn.md#exit-codes"),
                ],
            },
        ];
        let course = FakeCourse { dir: tempfile::tempdir().expect("a temp dir"), chapters };
        let members = "[workspace]\nmembers = [\"ch00-spawn\", \"ch01-uts\"]\n";
        for workspace in ["solutions", "chapters"] {
            course.write(&format!("{workspace}/Cargo.toml"), members);
            for (dir, package) in [("ch00-spawn", "spawn"), ("ch01-uts", "uts")] {
                course.write(&format!("{workspace}/{dir}/Cargo.toml"), &format!("[package]\nname = \"{package}\"\n"));
            }
        }
        for dir in ["ch00-spawn", "ch01-uts"] {
            course.write(&format!("solutions/{dir}/src/main.rs"), &main_rs(*LEARNER_LINES.start()));
            course.write(&format!("chapters/{dir}/src/main.rs"), "fn main() {\n    todo!(\"run\")\n}\n");
        }
        course.write(
            "book/src/SUMMARY.md",
            "# Summary\n\n# The runtime\n\n- [Chapter 0: spawn](ch00-spawn.md)\n- [Chapter 1: uts](ch01-uts.md)\n",
        );
        let table = "## What the tests check\n\n| test | points | passes when |\n|---|---|---|\n";
        let build = "## What you will build\n\n- **A lesson.** (`main`)\n\n```svgbob\n+--+\n```\n\n";
        course.write(
            "book/src/ch00-spawn.md",
            &format!("# Chapter 0: spawn\n\n{build}## Exit codes\n\n{table}| `exit-code-relayed` | 1 | it works |\n"),
        );
        course.write(
            "book/src/ch01-uts.md",
            &format!(
                "# Chapter 1: uts\n\n{build}## The layer\n\n{table}| `hostname-set-inside` | 1 | it works |\n\
                 | `uses-spawn` | 1 | it works |\n"
            ),
        );
        course.write("README.md", "| # | crate |\n|---|---|\n| 0 | `ch00-spawn` |\n| 1 | `ch01-uts` |\n");
        course
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        fs::create_dir_all(path.parent().expect("a parent")).expect("create the folder");
        fs::write(path, text).expect("write the file");
    }

    fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = fs::read_to_string(self.dir.path().join(relative)).expect("read the file");
        assert!(text.contains(from), "{relative} has no {from:?}");
        self.write(relative, &text.replacen(from, to, 1));
    }

    fn problems(&self) -> Vec<Problem> {
        check(self.dir.path(), &self.chapters)
    }

    /// The one problem the course has, or a failure listing them all.
    fn only_problem(&self) -> Problem {
        let problems = self.problems();
        assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
        problems[0].clone()
    }
}

#[test]
fn a_consistent_fake_course_passes() {
    assert_eq!(FakeCourse::new().problems(), vec![]);
}

#[test]
fn a_chapter_page_without_a_picture_is_reported() {
    let course = FakeCourse::new();
    course.edit("book/src/ch01-uts.md", "```svgbob", "```text");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("book/src/ch01-uts.md"));
    assert!(problem.message.contains("has no picture"), "{problem}");
}

#[test]
fn a_book_anchor_that_is_no_heading_is_reported() {
    let mut course = FakeCourse::new();
    course.chapters[1].tests[0].book = "ch01-uts.md#the-layr";
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("checker/suite/src/chapters/ch01_uts.rs"));
    assert!(problem.message.contains("\"hostname-set-inside\""), "{problem}");
    assert!(problem.message.contains("book/src/ch01-uts.md has no heading with id \"the-layr\""), "{problem}");
    assert!(problem.message.contains("\"the-layer\""), "the fix lists the ids there are: {problem}");
}

#[test]
fn a_book_page_that_is_no_chapter_is_reported() {
    let mut course = FakeCourse::new();
    course.chapters[0].tests[0].book = "ch09-nope.md#exit-codes";
    let problem = course.only_problem();
    assert!(problem.message.contains("\"ch09-nope.md\" is no chapter's page"), "{problem}");
}

#[test]
fn two_tests_with_one_name_are_reported() {
    let mut course = FakeCourse::new();
    course.chapters[1].tests[1].name = "exit-code-relayed";
    course.edit("book/src/ch01-uts.md", "`uses-spawn`", "`exit-code-relayed`");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("checker/suite/src/chapters/ch01_uts.rs"));
    assert!(
        problem.message.contains("test name \"exit-code-relayed\" is used twice (chapter 0 and chapter 1)"),
        "{problem}"
    );
    assert!(problem.message.contains("rename one"), "{problem}");
}

#[test]
fn empty_hints_zero_points_and_a_wrong_chapter_are_reported() {
    let mut course = FakeCourse::new();
    let test = &mut course.chapters[1].tests[0];
    test.hint = " ";
    test.points = 0;
    test.chapter = 0;
    course.edit("book/src/ch01-uts.md", "| `hostname-set-inside` | 1 |", "| `hostname-set-inside` | 0 |");
    let messages: Vec<String> = course.problems().into_iter().map(|p| p.message).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("has an empty hint"), "{messages:#?}");
    assert!(messages[1].contains("is worth 0 points"), "{messages:#?}");
    assert!(messages[2].contains("says `chapter: 0` but is one of chapter 1's tests"), "{messages:#?}");
}

#[test]
fn a_chapter_missing_from_the_summary_is_reported() {
    let course = FakeCourse::new();
    course.edit("book/src/SUMMARY.md", "- [Chapter 1: uts](ch01-uts.md)\n", "");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("book/src/SUMMARY.md"));
    assert!(problem.message.contains("chapter 1's page is not linked"), "{problem}");
    assert!(problem.message.contains("add `- [Chapter 1: uts](ch01-uts.md)`"), "{problem}");
}

#[test]
fn a_missing_book_page_is_reported() {
    let course = FakeCourse::new();
    fs::remove_file(course.dir.path().join("book/src/ch01-uts.md")).expect("remove the page");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("book/src/ch01-uts.md"));
    assert!(problem.message.contains("is missing: write chapter 1's page"), "{problem}");
}

#[test]
fn a_solution_block_without_starter_guidance_is_reported() {
    let course = FakeCourse::new();
    // The starter drops the block either way, so chapters/ does not drift.
    course.edit("solutions/ch01-uts/src/main.rs", "    // STARTER: todo!(\"run\")\n", "");
    course.write("chapters/ch01-uts/src/main.rs", "fn main() {\n}\n");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("solutions/ch01-uts/src/main.rs"));
    assert_eq!(problem.line, Some(2));
    assert!(problem.message.contains("no // STARTER: guidance directly above it"), "{problem}");
    assert!(problem.to_string().starts_with("solutions/ch01-uts/src/main.rs:2: "), "{problem}");
}

#[test]
fn a_missing_workspace_member_is_reported() {
    let course = FakeCourse::new();
    course.edit("solutions/Cargo.toml", "\"ch00-spawn\", \"ch01-uts\"", "\"ch00-spawn\"");
    course.edit("chapters/Cargo.toml", "\"ch00-spawn\", \"ch01-uts\"", "\"ch00-spawn\"");
    let problems = course.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(problems[0].file, Path::new("solutions/Cargo.toml"));
    assert_eq!(
        problems[0].message,
        "workspace member \"ch01-uts\" (chapter 1) is missing: add it to `members`, in chapter order"
    );
    assert_eq!(problems[1].file, Path::new("chapters/Cargo.toml"));
    assert!(problems[1].message.contains("chapters/ is generated: fix solutions/, then run"), "{problems:#?}");
}

#[test]
fn members_out_of_order_or_unknown_are_reported() {
    let course = FakeCourse::new();
    course.edit("solutions/Cargo.toml", "\"ch00-spawn\", \"ch01-uts\"", "\"ch01-uts\", \"ch00-spawn\", \"extra\"");
    let messages: Vec<String> = course.problems().into_iter().map(|p| p.message).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("\"extra\" is no chapter of the table"), "{messages:#?}");
    assert!(messages[1].contains("out of order: list them in chapter order, [\"ch00-spawn\", \"ch01-uts\"]"));
    assert!(messages[2].starts_with("differs from what solutions/ gives"), "{messages:#?}");
}

#[test]
fn a_package_named_otherwise_is_reported() {
    let course = FakeCourse::new();
    course.edit("solutions/ch01-uts/Cargo.toml", "\"uts\"", "\"hostname\"");
    course.edit("chapters/ch01-uts/Cargo.toml", "\"uts\"", "\"hostname\"");
    let problems = course.problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(problems[0].file, Path::new("solutions/ch01-uts/Cargo.toml"));
    assert!(problems[0].message.contains("named \"hostname\""), "{problems:#?}");
    assert!(problems[0].message.contains("says \"uts\" for chapter 1"), "{problems:#?}");
}

#[test]
fn the_books_test_table_must_list_each_test_with_its_points() {
    let course = FakeCourse::new();
    course.edit("book/src/ch01-uts.md", "| `uses-spawn` | 1 |", "| `uses-spawm` | 2 |");
    course.edit("book/src/ch01-uts.md", "| `hostname-set-inside` | 1 |", "| `hostname-set-inside` | 2 |");
    let problems = course.problems();
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(problems.iter().all(|p| p.file == Path::new("book/src/ch01-uts.md")), "{problems:#?}");
    assert!(messages[0].contains("gives \"hostname-set-inside\" 2 points, the test is worth 1"), "{messages:#?}");
    assert!(messages[1].contains("has no row for \"uses-spawn\": add `| `uses-spawn` | 1 |"), "{messages:#?}");
    assert!(messages[2].contains("a row for \"uses-spawm\", which is no test of chapter 1"), "{messages:#?}");
}

#[test]
fn a_page_without_a_test_table_is_reported() {
    let course = FakeCourse::new();
    course.edit("book/src/ch00-spawn.md", "## What the tests check", "## Tests");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("book/src/ch00-spawn.md"));
    assert!(problem.message.starts_with("has no \"What the tests check\" section: add one"), "{problem}");
}

#[test]
fn rows_out_of_number_and_chapters_without_tests_are_reported() {
    let mut course = FakeCourse::new();
    course.chapters[1].number = 2;
    course.chapters[1].tests.clear();
    course.edit("README.md", "| 1 |", "| 2 |");
    course.edit(
        "book/src/ch01-uts.md",
        "| `hostname-set-inside` | 1 | it works |\n| `uses-spawn` | 1 | it works |\n",
        "",
    );
    let problems: Vec<String> = course.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "checker/suite/src/chapters/mod.rs: row 1 is chapter 2: number the rows 0, 1, 2, … in order",
            "checker/suite/src/chapters/ch01_uts.rs: chapter 2 has no tests: a chapter is graded, so its \
             `tests()` lists at least one",
        ]
    );
}

#[test]
fn a_chapter_missing_from_the_readme_is_reported() {
    let course = FakeCourse::new();
    course.edit("README.md", "| 1 | `ch01-uts` |\n", "");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("README.md"));
    assert!(problem.message.contains("no row for chapter 1: add one starting `| 1 |`"), "{problem}");
}

#[test]
fn drifted_starters_are_reported() {
    let course = FakeCourse::new();
    course.write("chapters/ch00-spawn/src/main.rs", "fn main() {}\n");
    let problem = course.only_problem();
    assert_eq!(problem.file, Path::new("chapters/ch00-spawn/src/main.rs"));
    assert!(problem.message.starts_with("differs from what solutions/ gives"), "{problem}");
    assert!(problem.message.contains("dev split"), "{problem}");
}

#[test]
fn a_test_may_point_at_another_page_of_its_chapter_but_not_elsewhere() {
    let mut course = FakeCourse::new();
    course.write("book/src/ch01-more.md", "# More of chapter 1\n\n## Hostnames by hand\n\n```svgbob\n+--+\n```\n");
    course.write("book/src/grading.md", "# Grading\n\n## Hostnames by hand\n");
    course.chapters[1].tests[0].book = "ch01-more.md#hostnames-by-hand";
    assert_eq!(course.problems(), vec![]);
    course.chapters[1].tests[0].book = "grading.md#hostnames-by-hand";
    assert!(course.only_problem().message.contains("is no chapter's page"));
}

#[test]
fn a_starter_todo_must_name_a_section_of_its_chapter() {
    let course = FakeCourse::new();
    let todo = |section: &str| format!("// STARTER: todo!(\"run (book: chapter 1, \\\"{section}\\\")\")");
    course.edit("solutions/ch01-uts/src/main.rs", "// STARTER: todo!(\"run\")", &todo("The layer"));
    course.edit(
        "chapters/ch01-uts/src/main.rs",
        "todo!(\"run\")",
        "todo!(\"run (book: chapter 1, \\\"The layer\\\")\")",
    );
    assert_eq!(course.problems(), vec![]);
    course.edit("solutions/ch01-uts/src/main.rs", &todo("The layer"), &todo("The layr"));
    let problems = course.problems();
    let named = problems.iter().find(|p| p.file == Path::new("solutions/ch01-uts/src/main.rs"));
    assert!(named.is_some_and(|p| p.line == Some(2) && p.message.contains("names no heading")), "{problems:#?}");
}

#[test]
fn a_page_without_what_you_will_build_is_reported() {
    let course = FakeCourse::new();
    course.edit("book/src/ch01-uts.md", "## What you will build", "## What you make");
    let problem = course.only_problem();
    assert!(problem.message.contains("has no \"## What you will build\" section"), "{problem:#?}");
}

#[test]
fn a_learner_function_no_lesson_names_is_reported() {
    let course = FakeCourse::new();
    course.edit("book/src/ch00-spawn.md", "(`main`)", "(`run`)");
    let problem = course.only_problem();
    assert!(problem.message.contains("does not name `main`"), "{problem:#?}");
}

#[test]
fn a_learner_part_too_small_or_too_large_is_reported() {
    let course = FakeCourse::new();
    course.write("solutions/ch01-uts/src/main.rs", &main_rs(LEARNER_LINES.start() - 1));
    let problem = course.only_problem();
    assert!(problem.to_string().contains("solutions/ch01-uts"), "{problem}");
    assert!(problem.to_string().contains("39 lines of code"), "{problem}");
    course.write("solutions/ch01-uts/src/main.rs", &main_rs(LEARNER_LINES.end() + 1));
    assert!(course.only_problem().to_string().contains("151 lines of code"));
}

#[test]
fn comments_blank_and_use_lines_are_not_learner_code() {
    let course = FakeCourse::new();
    let extra = "// SOLUTION BEGIN\n// a comment\n\nuse std::fs;\nfn two() {}\n// SOLUTION END\n";
    course.write("solutions/ch01-uts/src/extra.rs", &format!("// STARTER: // yours\n{extra}"));
    assert_eq!(learner_lines(&course.dir.path().join("solutions/ch01-uts")), LEARNER_LINES.start() + 1);
}
