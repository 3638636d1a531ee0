//! The ids mdBook gives a page's headings: what a `page.md#id` link can
//! point at.

use std::collections::HashMap;

/// The ids mdBook gives a page's headings, in order, which is what a
/// `page.md#id` link can point at.
///
/// As mdBook 0.5 does (`add_header_links`): ATX headings (`## Title`)
/// outside fenced code blocks; an explicit `{#id}` attribute wins;
/// otherwise the id comes from the heading's text (code spans keep their
/// text, link and emphasis markup goes) by [`id_from_content`], and a
/// repeated id gets `-1`, `-2`, … Setext headings, definition lists and
/// `_underscore_` emphasis, which the book does not use, are not read.
pub fn heading_ids(markdown: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut fence: Option<(char, usize)> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        let indented = line.len() - trimmed.len() > 3;
        if let Some((mark, length)) = fence {
            let run = trimmed.chars().take_while(|c| *c == mark).count();
            if !indented && run >= length && trimmed[run..].trim().is_empty() {
                fence = None;
            }
            continue;
        }
        if indented {
            continue;
        }
        if let Some(opening) = fence_opening(trimmed) {
            fence = Some(opening);
            continue;
        }
        let Some(content) = atx_heading(trimmed) else { continue };
        let (content, explicit) = split_attributes(content);
        // An explicit id is used as written, and takes no part in numbering.
        if let Some(id) = explicit {
            ids.push(id.to_string());
            continue;
        }
        let id = id_from_content(&plain_text(content));
        let count = counts.entry(id.clone()).or_insert(0);
        ids.push(if *count == 0 { id } else { format!("{id}-{count}") });
        *count += 1;
    }
    ids
}

/// The fence character and length if `line` opens a fenced code block.
fn fence_opening(line: &str) -> Option<(char, usize)> {
    let mark = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = line.chars().take_while(|c| *c == mark).count();
    (length >= 3).then_some((mark, length))
}

/// The content of an ATX heading line (`#` to `######`, then a space),
/// without its optional closing `#`s.
fn atx_heading(line: &str) -> Option<&str> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    let rest = &line[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    let without_closing = rest.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        Some(without_closing.trim_end())
    } else {
        Some(rest)
    }
}

/// Splits a heading's trailing `{#id .class}` attributes off, returning
/// the text before them and the id, if any.
fn split_attributes(content: &str) -> (&str, Option<&str>) {
    let Some(inner) = content.strip_suffix('}') else { return (content, None) };
    let Some(open) = inner.rfind('{') else { return (content, None) };
    let id = inner[open + 1..].split_whitespace().find_map(|token| token.strip_prefix('#'));
    match id {
        Some(id) => (content[..open].trim_end(), Some(id)),
        None => (content, None),
    }
}

/// A heading's text as mdBook sees it: code spans keep their content,
/// links keep their text, emphasis stars, backslashes and inline HTML go.
fn plain_text(content: &str) -> String {
    let mut text = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            let ticks = rest.bytes().take_while(|b| *b == b'`').count();
            let fence = &rest[..ticks];
            if let Some(end) = rest[ticks..].find(fence) {
                let code = &rest[ticks..ticks + end];
                // One space each side is padding, as in "`` `x` ``".
                let code = match code.strip_prefix(' ').and_then(|c| c.strip_suffix(' ')) {
                    Some(inner) if !inner.trim().is_empty() => inner,
                    _ => code,
                };
                text.push_str(code);
                rest = &rest[ticks + end + ticks..];
                continue;
            }
            text.push_str(fence);
            rest = &rest[ticks..];
            continue;
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                rest = &rest[end + 1..];
                continue;
            }
        }
        if c == ']' && rest[1..].starts_with('(') {
            // The end of a link's text: skip its target.
            if let Some(end) = rest.find(')') {
                rest = &rest[end + 1..];
                continue;
            }
        }
        if c == '\\' {
            rest = &rest[1..];
            if let Some(escaped) = rest.chars().next() {
                text.push(escaped);
                rest = &rest[escaped.len_utf8()..];
            }
            continue;
        }
        if !matches!(c, '*' | '[' | ']' | '!') {
            text.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    text
}

/// The id mdBook makes of a heading's text: trimmed, ASCII letters
/// lowercased, whitespace to `-`, and everything that is neither
/// alphanumeric nor `-` nor `_` dropped (mdBook's `id_from_content`).
pub fn id_from_content(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_as_mdbook_makes_them() {
        assert_eq!(id_from_content("PID 1's duties"), "pid-1s-duties");
        assert_eq!(id_from_content("  Über Café  "), "Über-café");
        let page = "# Chapter 3: rootfs\n\n## `pivot_root`, step by step\n## The `--rootfs` argument\n\
                    ## A fresh `/proc`\n### Why `Vec<u8>`\n## [Links](https://example.org) *matter* ##\n\
                    ## Custom {#my-id .note}\n## The layer\n## The layer\n\n```console\n# hostname\n```\n\
                    ~~~~\n## not a heading\n~~~~\n    # indented code\n#hashtag\n";
        assert_eq!(
            heading_ids(page),
            [
                "chapter-3-rootfs",
                "pivot_root-step-by-step",
                "the---rootfs-argument",
                "a-fresh-proc",
                "why-vecu8",
                "links-matter",
                "my-id",
                "the-layer",
                "the-layer-1",
            ]
        );
    }
}
