//! The `dataflow` command line: argument handling and exit codes (DESIGN.md "Command line").

use std::io::Write;
use std::process::ExitCode;

/// Exit code: done, or nothing to do.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 1;

const HELP: &str = "\
dataflow — keeps a relational database in step with your Rust structs

Usage: dataflow <COMMAND> [OPTIONS]

Commands (arriving with the database connectors):
  diff      print the plan that turns --db into --target (SQL or JSON)
  apply     apply that plan through the migrator (lock, history, rollback)
  plan      write a reviewed plan file; `apply --plan` runs exactly it
  status    what differs between models and database, what is pending
  history   applied migrations
  rollback  undo a migration, data included
  purge     empty the trash of dropped tables and columns
  snapshot  print the live schema as JSON (for offline plans)

Today the library's offline path works without a database:
  dataflow::schema_of(&[...]) and dataflow::plan_offline(&current, &desired, ...)

Options:
  -h, --help     print this help
  -V, --version  print the version
";

/// Runs the command line with `args` (without the program name), writing to stdout and
/// stderr, and returns the exit code.
pub fn run<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print(&mut std::io::stdout(), HELP);
            ExitCode::from(EXIT_OK)
        }
        Some("-V" | "--version") => {
            print(
                &mut std::io::stdout(),
                &format!("dataflow {}\n", env!("CARGO_PKG_VERSION")),
            );
            ExitCode::from(EXIT_OK)
        }
        Some(command) => {
            let message = format!(
                "error: `{command}` is not available in this version of dataflow\n\n{HELP}"
            );
            print(&mut std::io::stderr(), &message);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn print(out: &mut dyn Write, text: &str) {
    // A closed pipe (`dataflow --help | head -1`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
}
