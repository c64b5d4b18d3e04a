//! The person at the terminal: whether there is one to ask, how wide and colourful the
//! preview may be, and the `[y/N]` prompt (on stderr; see [`answer`]).

pub mod answer;

use dataflow_schema::PreviewOptions;
use std::io::IsTerminal;

/// Whether a person can answer a prompt: stdin and stderr (where the prompt goes) are both
/// terminals. A replica under a process manager, CI, or a pipe gets `false`.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Colours on stderr: only on a terminal, never with `NO_COLOR` set (<https://no-color.org>)
/// or `TERM=dumb`.
pub fn colors_enabled() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    std::io::stderr().is_terminal() && !no_color && !dumb
}

/// Preview options for stderr: the terminal's width (100 columns when it is not a
/// terminal) and colours when [`colors_enabled`].
pub fn preview_options(show_sql: bool, show_rollback_plan: bool) -> PreviewOptions {
    let width = console::Term::stderr()
        .size_checked()
        .map_or(100, |(_rows, columns)| columns.clamp(60, 200));
    PreviewOptions::default()
        .with_show_sql(show_sql)
        .with_show_rollback_plan(show_rollback_plan)
        .with_width(width)
        .with_color(colors_enabled())
}

/// Prints `plan`'s preview on stderr, fitted to the terminal.
pub fn print_preview(plan: &dataflow_schema::Plan, show_sql: bool, show_rollback_plan: bool) {
    eprint!("{}", plan.preview(preview_options(show_sql, show_rollback_plan)));
}

/// Asks `question [y/N]` on the terminal and waits for a line. Only `y` or `yes`
/// (case-insensitive) is a yes; anything else — another word, an empty line, end of input
/// (Ctrl-D), an interrupt (Ctrl-C) or no terminal at all — is no. What is typed is echoed.
pub fn confirm(question: &str) -> bool {
    if !is_interactive() {
        return false;
    }
    answer::ask_terminal(question).is_yes()
}
