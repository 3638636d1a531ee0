//! The book's pictures: every fenced block of a chapter whose info string
//! is `svgbob` becomes an inline SVG drawing, rendered by the `svgbob`
//! crate; every other line of the chapter is left as it is.
//!
//! The picture's source stays in the book's Markdown as text (an ASCII
//! drawing), so a change to a picture is a diff a reviewer can read. What
//! the reader sees is the SVG, which:
//!
//! - scales down with the page (a `viewBox`, `max-width: 100%`), so a wide
//!   picture is never clipped, on screen or in `print.html`;
//! - draws with the theme's own colours (`var(--fg)` on `var(--bg)`), so it
//!   reads in the light theme and in the dark ones alike.

use anyhow::{bail, Result};
use svgbob::Settings;

/// The info string that marks a fenced block as a picture.
pub const LANGUAGE: &str = "svgbob";

/// Renders every ```` ```svgbob ```` block of a chapter's Markdown into a
/// `<figure>` holding its SVG. `chapter` names the page in errors.
///
/// Other fenced blocks (```` ```text ````, ```` ```console ````, …) are
/// copied untouched, even when their content looks like a fence. A picture
/// fence must start at the line's first column: an indented one (in a list
/// item) would be rendered as code, silently, so it is an error.
pub fn render_chapter(chapter: &str, markdown: &str) -> Result<String> {
    let mut out = String::with_capacity(markdown.len());
    let mut lines = markdown.split_inclusive('\n').enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_end();
        let Some(fence) = opening_fence(trimmed) else {
            out.push_str(line);
            continue;
        };
        let info = trimmed[fence.len()..].trim();
        let is_picture = info.split_whitespace().next() == Some(LANGUAGE);
        if is_picture && fence.starts_with(' ') {
            bail!("{chapter}:{}: a ```{LANGUAGE} fence must start in the first column (it is indented)", index + 1);
        }
        if !is_picture {
            // Another fenced block: copy it whole, up to its closing fence.
            out.push_str(line);
            for (_, inner) in lines.by_ref() {
                out.push_str(inner);
                if is_closing_fence(inner.trim_end(), fence.trim_start()) {
                    break;
                }
            }
            continue;
        }
        let mut source = String::new();
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            if is_closing_fence(inner.trim_end(), fence) {
                closed = true;
                break;
            }
            source.push_str(inner);
        }
        if !closed {
            bail!("{chapter}:{}: this ```{LANGUAGE} block has no closing fence", index + 1);
        }
        out.push_str(&figure(&source));
    }
    Ok(out)
}

/// The fence that opens a fenced code block on this line (its indentation
/// and its run of backticks or tildes), if the line opens one.
fn opening_fence(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None; // an indented code block, not a fence
    }
    let rest = &line[indent..];
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = rest.len() - rest.trim_start_matches(marker).len();
    (run >= 3).then(|| &line[..indent + run])
}

/// Whether `line` closes a block opened by `fence` (the same character, at
/// least as many of them, and nothing else on the line).
fn is_closing_fence(line: &str, fence: &str) -> bool {
    let fence = fence.trim_start();
    let Some(marker) = fence.chars().next() else {
        return false;
    };
    let line = line.trim();
    line.len() >= fence.len() && line.chars().all(|c| c == marker)
}

/// One picture as the HTML the page carries: a `<figure>` holding the SVG,
/// on a single line (a blank line would end mdBook's HTML block and turn
/// the rest of the SVG into text), followed by the blank line that ends it.
pub fn figure(source: &str) -> String {
    format!("<figure class=\"picture\">{}</figure>\n\n", svg(source))
}

/// Renders one ASCII drawing to an SVG element that scales with the page
/// and draws in the theme's colours.
pub fn svg(source: &str) -> String {
    let settings = Settings {
        // The theme's colours: mdBook sets these variables for each theme.
        stroke_color: "var(--fg)".into(),
        fill_color: "var(--fg)".into(),
        background: "var(--bg)".into(),
        // A cell is 8 px wide: 13 px of a common monospace font (0.6 em a
        // character) keeps a line of text within its cells.
        font_size: 13,
        font_family: "ui-monospace, 'Source Code Pro', 'DejaVu Sans Mono', Consolas, monospace".into(),
        ..Settings::default()
    };
    let cells = svgbob::CellBuffer::from(source);
    // svgbob sizes the drawing by its shapes and forgets "quoted" text, so
    // the size comes from the source's lines: a cell is `scale` wide and
    // twice that high. Two cells more on the right, as a text's last glyphs
    // can run a little past its cells.
    let columns = source.lines().map(|line| line.chars().count()).max().unwrap_or(0);
    let rows = source.lines().count();
    let width = (columns + 2) as f32 * settings.scale;
    let height = (rows + 1) as f32 * 2.0 * settings.scale;
    let node = cells.get_node_override_size::<()>(&settings, width, height);
    let rendered = node.render_to_string().replace('\n', " ");
    // svgbob gives a fixed width and height and no viewBox: with a viewBox
    // the drawing scales down to fit the column instead of overflowing it.
    let opening = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\" class=\"svgbob\" role=\"img\" style=\"max-width: 100%; height: auto\">"
    );
    match rendered.find('>') {
        Some(end) if rendered.starts_with("<svg") => format!("{opening}{}", &rendered[end + 1..]),
        // Not what svgbob 0.7 gives: keep its SVG as it is rather than guess.
        _ => rendered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX: &str = "+-----+\n| box |\n+-----+\n";

    #[test]
    fn a_picture_block_becomes_a_scalable_svg() {
        let page = format!("Before.\n\n```svgbob\n{BOX}```\n\nAfter.\n");
        let html = render_chapter("page.md", &page).expect("renders");
        assert!(html.starts_with("Before.\n\n<figure class=\"picture\"><svg "), "{html}");
        assert!(html.contains("viewBox=\"0 0 "), "{html}");
        assert!(html.contains("max-width: 100%"), "{html}");
        assert!(html.contains(">box</text>"), "the label is text in the SVG: {html}");
        assert!(html.ends_with("</svg></figure>\n\n\nAfter.\n"), "{html}");
        assert!(!html.contains("```"), "the fence is gone: {html}");
        let figure = &html[html.find("<figure").unwrap_or(0)..html.find("</figure>").unwrap_or(0)];
        assert!(!figure.contains('\n'), "one line, so the HTML block holds: {figure}");
    }

    #[test]
    fn other_blocks_and_prose_are_untouched() {
        let page = "Prose with `svgbob` in it.\n\n```text\n+--+\n|  |\n+--+\n```\n\n````markdown\n```svgbob\n+-+\n```\n````\n\n```console\n$ ls\n```\n";
        assert_eq!(render_chapter("page.md", page).expect("renders"), page);
    }

    #[test]
    fn the_theme_colours_draw_the_picture() {
        let svg = svg("a ---> b\n");
        assert!(svg.contains("var(--fg)"), "{svg}");
        assert!(!svg.contains("black"), "no fixed colour that vanishes on a dark theme: {svg}");
    }

    #[test]
    fn text_in_a_picture_is_escaped() {
        let svg = svg("a <b> & c\n");
        assert!(svg.contains("&lt;b&gt;") || svg.contains("&#60;"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
    }

    #[test]
    fn a_broken_fence_is_an_error_that_names_its_place() {
        let unclosed = render_chapter("ch09.md", "intro\n```svgbob\n+-+\n").expect_err("unclosed");
        assert!(unclosed.to_string().starts_with("ch09.md:2: "), "{unclosed}");
        let indented = render_chapter("ch09.md", "- item\n\n  ```svgbob\n  +-+\n  ```\n").expect_err("indented");
        assert!(indented.to_string().contains("first column"), "{indented}");
    }
}
