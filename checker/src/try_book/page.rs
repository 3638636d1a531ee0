//! The by-hand blocks of a book page: every ```` ```console ```` block under a
//! heading that says "by hand" ("Try it by hand", "Your runtime, by
//! hand"), split into commands and the output the page shows for each.
//!
//! A line starting `# ` (root) or `$ ` (a user) is a command; the lines
//! after it, up to the next command, are its output. A command ending in
//! `\` continues on the next line, and a heredoc (`<<'EOF'`) takes its
//! lines up to the delimiter. A block may sit in a blockquote (a note),
//! its lines starting `> `. Commands that start with `cargo` run on the
//! reader's own machine, not in the guest, and are left out.

use std::ops::Range;

/// One command of a page, and what the page shows it printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The command as typed, continuation and heredoc lines included.
    pub command: String,
    /// The page's line number (1-based) of the command.
    pub line: usize,
    /// The output lines the page shows.
    pub expected: Vec<String>,
    /// Where those lines are in the page (0-based line indices).
    pub output_lines: Range<usize>,
    /// The block's quote prefix (`> `), put back on lines written by `--bless`.
    pub prefix: String,
}

/// A page's steps, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The file's name in `book/src`.
    pub name: String,
    /// Its steps; empty when the page has no by-hand block.
    pub steps: Vec<Step>,
}

/// Reads the steps of `text`, the page called `name`.
pub fn parse(name: &str, text: &str) -> Page {
    let lines: Vec<&str> = text.lines().collect();
    let mut steps = Vec::new();
    let mut by_hand = false;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if let Some(heading) = line.strip_prefix("## ") {
            by_hand = heading.to_lowercase().contains("by hand");
        }
        let (prefix, rest) = split_quote(line);
        if by_hand && rest.trim_start().starts_with("```console") {
            index = parse_block(&lines, index + 1, &prefix, &mut steps);
            continue;
        }
        // A fence of another language: skip it whole, so that a `## ` in
        // it is not taken for a heading.
        if rest.trim_start().starts_with("```") {
            index += 1;
            while index < lines.len() && !split_quote(lines[index]).1.trim_start().starts_with("```") {
                index += 1;
            }
        }
        index += 1;
    }
    Page { name: name.to_string(), steps: steps.into_iter().filter(|s| !runs_on_the_host(&s.command)).collect() }
}

/// Reads one block from `start` (the line after its fence) and returns the
/// index of the line after its closing fence.
fn parse_block(lines: &[&str], start: usize, prefix: &str, steps: &mut Vec<Step>) -> usize {
    let mut index = start;
    let mut current: Option<Step> = None;
    while index < lines.len() {
        let (_, text) = split_quote(lines[index]);
        if text.trim_start().starts_with("```") {
            steps.extend(current.take());
            return index + 1;
        }
        if let Some(command) = text.strip_prefix("# ").or_else(|| text.strip_prefix("$ ")) {
            steps.extend(current.take());
            let line = index + 1;
            let mut command = command.to_string();
            // A continued line or a heredoc: the following lines are the
            // command's, not its output.
            while command.ends_with('\\') && index + 1 < lines.len() {
                index += 1;
                command.push('\n');
                command.push_str(split_quote(lines[index]).1);
            }
            if let Some(delimiter) = heredoc_delimiter(&command) {
                while index + 1 < lines.len() {
                    index += 1;
                    let body = split_quote(lines[index]).1;
                    command.push('\n');
                    command.push_str(body);
                    if body == delimiter {
                        break;
                    }
                }
            }
            current = Some(Step {
                command,
                line,
                expected: Vec::new(),
                output_lines: index + 1..index + 1,
                prefix: prefix.to_string(),
            });
        } else if let Some(step) = current.as_mut() {
            step.expected.push(text.to_string());
            step.output_lines.end = index + 1;
        }
        index += 1;
    }
    steps.extend(current.take());
    index
}

/// A line's blockquote prefix (`> `, or `>` alone on an empty quoted line)
/// and the rest.
fn split_quote(line: &str) -> (String, &str) {
    if let Some(rest) = line.strip_prefix("> ") {
        (String::from("> "), rest)
    } else if line == ">" {
        (String::from("> "), "")
    } else {
        (String::new(), line)
    }
}

/// The delimiter of a heredoc the command starts (`<<'EOF'`, `<<EOF`).
fn heredoc_delimiter(command: &str) -> Option<String> {
    let after = command.split("<<").nth(1)?;
    let word: String = after
        .trim_start_matches('-')
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '|')
        .collect();
    let word = word.trim_matches(|c| c == '\'' || c == '"').to_string();
    (!word.is_empty()).then_some(word)
}

/// Commands the reader types on their own machine (`cargo run -p checker
/// -- shell chapter1`), not in the guest.
fn runs_on_the_host(command: &str) -> bool {
    command.starts_with("cargo ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# Chapter\n\
        ```console\n# not run\n```\n\
        ## Try it by hand\n\
        Text.\n\
        ```console\n\
        $ cargo run -p checker -- shell chapter1\n\
        booting…\n\
        # hostname; echo hi\n\
        greenroom-guest\n\
        hi\n\
        # cat > f <<'EOF'\n\
        line\n\
        EOF\n\
        # echo a \\\n\
        \x20 b\n\
        a b\n\
        ```\n\
        > [!NOTE]\n\
        > ```console\n\
        > # true\n\
        > ```\n\
        ```rust\n## not a heading\n```\n\
        ## Next\n\
        ```console\n# not run either\n```\n";

    #[test]
    fn commands_of_by_hand_sections_with_their_output() {
        let page = parse("ch.md", PAGE);
        let commands: Vec<&str> = page.steps.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(commands, ["hostname; echo hi", "cat > f <<'EOF'\nline\nEOF", "echo a \\\n  b", "true"]);
        assert_eq!(page.steps[0].expected, ["greenroom-guest", "hi"]);
        assert_eq!(page.steps[0].line, 10);
        assert_eq!(page.steps[0].output_lines, 10..12);
        assert!(page.steps[1].expected.is_empty());
        assert_eq!(page.steps[2].expected, ["a b"]);
        assert_eq!(page.steps[3].prefix, "> ");
    }
}
