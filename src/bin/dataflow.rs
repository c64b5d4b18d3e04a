//! The `dataflow` command line tool. Thin: all logic is in `dataflow_core::cli`.

fn main() -> std::process::ExitCode {
    dataflow_core::cli::run_tool(std::env::args_os())
}
