//! `book-pictures`: the mdBook preprocessor that draws the book's
//! ```` ```svgbob ```` blocks (see the library for what it renders).
//!
//! mdBook's protocol (0.5): it first runs `book-pictures supports RENDERER`
//! (exit 0: yes), then runs `book-pictures` with `[context, book]` as JSON
//! on stdin and reads the processed book as JSON from stdout. book.toml
//! wires it in as `[preprocessor.pictures]`. `book-pictures render` turns
//! one drawing on stdin into its SVG, to preview a picture while drawing it.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use mdbook_preprocessor::book::{Book, BookItem};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        // Inline SVG is HTML, which every renderer of this book (html)
        // shows; a renderer that cannot keeps the block as text (mdBook
        // skips a preprocessor whose `supports` exits non-zero).
        [supports, renderer] if supports == "supports" => {
            return if renderer == "html" { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
        [] => run(),
        // For an author: one drawing on stdin, its SVG on stdout.
        [render] if render == "render" => render_stdin(),
        _ => {
            eprintln!("book-pictures: usage: book-pictures [supports RENDERER | render] (mdBook runs it; see book/book.toml; `render` turns one drawing on stdin into SVG)");
            return ExitCode::from(125);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("book-pictures: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the book from stdin, renders its pictures, writes it to stdout.
fn run() -> Result<()> {
    let (context, mut book) = mdbook_preprocessor::parse_input(io::stdin().lock())
        .context("read the book mdBook gives on stdin (is this run by `mdbook build`?)")?;
    if !context.mdbook_version.starts_with("0.5.") {
        eprintln!(
            "book-pictures: warning: written for mdBook 0.5, run by mdBook {} (CI pins 0.5)",
            context.mdbook_version
        );
    }
    render_book(&mut book)?;
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, &book).context("write the book to stdout")?;
    stdout.flush().context("write the book to stdout")
}

/// `render`: one drawing from stdin, as the SVG the book would show.
fn render_stdin() -> Result<()> {
    let source = io::read_to_string(io::stdin().lock()).context("read the drawing from stdin")?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", book_pictures::svg(&source)).context("write the SVG to stdout")
}

/// Renders the pictures of every chapter, sub-chapters included.
fn render_book(book: &mut Book) -> Result<()> {
    let mut failure = None;
    book.for_each_mut(|item| {
        if failure.is_some() {
            return;
        }
        if let BookItem::Chapter(chapter) = item {
            let name = chapter.source_path.as_ref().map_or_else(|| chapter.name.clone(), |p| p.display().to_string());
            match book_pictures::render_chapter(&name, &chapter.content) {
                Ok(content) => chapter.content = content,
                Err(error) => failure = Some(error),
            }
        }
    });
    failure.map_or(Ok(()), Err)
}
