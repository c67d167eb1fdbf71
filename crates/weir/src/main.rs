//! `weir`: the command line. Parses arguments, runs one command, maps its outcome to an
//! exit code. Each command lives in its own module.

mod check;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "weir", version, about = "Runs KSML stream-processing definitions, on an embedded log or Apache Kafka")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate KSML definitions and runner configs, reporting every problem with its location.
    Check {
        /// Definition files, runner configs (ksml-runner.yaml), or directories to search for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do not print warnings.
        #[arg(long)]
        no_warnings: bool,
    },
    /// Print the JSON schema of KSML definitions (or of the runner config), for editors.
    Schema {
        /// Print the schema of the runner config (ksml-runner.yaml) instead.
        #[arg(long)]
        runner: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { paths, no_warnings } => check::run(&paths, !no_warnings),
        Command::Schema { runner } => schema(runner),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn schema(runner: bool) -> anyhow::Result<bool> {
    let schema = if runner { weir_dsl::schema::runner_schema() } else { weir_dsl::schema::definition_schema() };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", serde_json::to_string_pretty(&schema)?) {
        // `weir schema | head` closes the pipe early: not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(true),
    }
}
