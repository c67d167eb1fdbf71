//! `weir`: the command line. Parses arguments, runs one command, maps its outcome to an
//! exit code. Each command lives in its own module.

mod app;
mod check;
mod control;
mod describe;
mod handover;
mod notations;
mod prometheus;
mod registry;
mod rest;
mod run;
mod serve;
mod settings;
mod status;
mod test;
mod topic;
mod topic_kafka;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "weir", version, about = "Runs KSML stream-processing definitions, on an embedded log or Apache Kafka")]
struct Cli {
    /// More log output: each -v one level more than WEIR_LOG or the command's default (info; warn for `test`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less log output: each -q one level less (`-qq` on `run`: errors only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
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
        /// A routes file (docs/http-routes.md) to check against the one runner config given.
        #[arg(long, value_name = "FILE")]
        routes: Option<PathBuf>,
    },
    /// Run KSML definitions until Ctrl-C: a runner config (ksml-runner.yaml) on the Kafka
    /// cluster it names, or with --embedded on the embedded log in its storage directory;
    /// definition files on the embedded log.
    ///
    /// With the runner config's 'applicationServer' and 'prometheus' sections, it also serves
    /// KSML's REST API (health probes, state store queries) and a Prometheus metrics page. On
    /// the embedded log, `weir topic` commands from other terminals reach the run through
    /// the storage directory's 'weir.sock'. On a terminal, a live status line shows records
    /// per second in and out, lag, errors and uptime.
    Run {
        /// A runner config, or one or more definition files.
        #[arg(required_unless_present = "config")]
        paths: Vec<PathBuf>,
        /// The runner config (ksml-runner.yaml), as a flag rather than a path.
        #[arg(long, value_name = "FILE", conflicts_with = "paths")]
        config: Option<PathBuf>,
        /// HTTP routes to serve on the REST API (docs/http-routes.md): ingest routes that
        /// write a request's JSON body to a topic, and long-polling queries of key-value stores.
        #[arg(long, value_name = "FILE")]
        routes: Option<PathBuf>,
        /// Stop once the producers are done and every input is processed (for scripts and tests).
        #[arg(long)]
        until_idle: bool,
        /// Run on the embedded log in the storage directory, even when the runner config
        /// names Kafka's 'bootstrap.servers'.
        #[arg(long, conflicts_with = "kafka")]
        embedded: bool,
        /// Run on Kafka (the runner config's 'bootstrap.servers'); the default for a runner
        /// config, so this only makes the choice explicit.
        #[arg(long)]
        kafka: bool,
        /// No live status line on the terminal: log a progress line every 10 s instead (as
        /// when stderr is not a terminal, or with NO_COLOR or TERM=dumb).
        #[arg(long)]
        no_progress: bool,
    },
    /// Print the topology `weir run` would run (sub-topologies, sources, processors and
    /// their stores, sinks, internal topics), as Kafka Streams' Topology.describe() text, a
    /// Mermaid flowchart or a Graphviz digraph.
    Describe {
        /// A runner config, or one or more definition files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: describe::Format,
    },
    /// Run KSML test suites (KSML's test-runner format) on a fresh embedded log per test, no
    /// broker needed; exits non-zero unless every test passes.
    Test {
        /// Suite files, or directories whose *.yaml / *.yml files (not in subdirectories) are suites.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Print the JSON schema of KSML definitions (or of the runner config, or of a routes file), for editors.
    Schema {
        /// Print the schema of the runner config (ksml-runner.yaml) instead.
        #[arg(long, conflicts_with = "routes")]
        runner: bool,
        /// Print the schema of a routes file (`weir run --routes`) instead.
        #[arg(long)]
        routes: bool,
    },
    /// Inspect and feed topics: list, describe, create, produce, consume; on the embedded log,
    /// or on Kafka with --bootstrap-server.
    Topic {
        /// The embedded log's directory (default: .weir-state).
        #[arg(long, global = true, value_name = "DIR", conflicts_with = "bootstrap_server")]
        storage: Option<PathBuf>,
        /// Work on the Kafka cluster at HOST:PORT[,HOST:PORT…] instead of the embedded log
        /// (with --config, its other 'kafka' properties, e.g. security settings, are used too).
        #[arg(long, global = true, value_name = "HOST:PORT")]
        bootstrap_server: Option<String>,
        /// A runner config (ksml-runner.yaml): its notations, schema directory and schema
        /// registries decode consume --key-type and --value-type (a running `weir run` uses
        /// its own instead); with --bootstrap-server, its other 'kafka' properties (e.g.
        /// security settings) go to the Kafka client.
        #[arg(long, global = true, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: topic::TopicCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = |default| init_logging(default, cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Check { paths, no_warnings, routes } => check::run(&paths, !no_warnings, routes.as_deref()),
        Command::Schema { runner, routes } => schema(runner, routes),
        Command::Run { paths, config, routes, until_idle, embedded, kafka, no_progress } => {
            logs(tracing::Level::INFO);
            let choice = if embedded {
                run::BackendChoice::Embedded
            } else if kafka {
                run::BackendChoice::Kafka
            } else {
                run::BackendChoice::Default
            };
            let paths = config.map_or(paths, |c| vec![c]);
            run::run(&paths, routes.as_deref(), until_idle, choice, status::choose_here(no_progress))
        }
        Command::Describe { paths, format } => {
            logs(tracing::Level::INFO);
            describe::run(&paths, format)
        }
        Command::Test { paths, junit } => {
            // Warnings only unless asked, so the report stays readable.
            logs(tracing::Level::WARN);
            test::run(&paths, junit.as_deref())
        }
        Command::Topic { storage, bootstrap_server, config, command } => {
            topic::run(topic::Place { storage, bootstrap_server, config }, command, topic_args())
        }
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

/// The arguments after `weir topic`, without the global `--storage` (for forwarding the
/// command to a running `weir run`).
fn topic_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for arg in std::env::args().skip_while(|a| a != "topic").skip(1) {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if arg == "--storage" {
            skip_next = true;
        } else if !arg.starts_with("--storage=") {
            out.push(arg);
        }
    }
    out
}

/// Logs go to stderr at `default` (a command's own level), or the level `WEIR_LOG` names
/// (error, warn, info, debug, trace), moved up by `-v` and down by `-q`.
fn init_logging(default: tracing::Level, verbose: u8, quiet: u8) {
    let level = log_level(default, std::env::var("WEIR_LOG").ok().as_deref(), verbose, quiet);
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        // Around `weir run`'s live status line, when one is shown.
        .with_writer(status::log_writer)
        .with_ansi(colour)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

const LEVELS: [tracing::Level; 5] =
    [tracing::Level::ERROR, tracing::Level::WARN, tracing::Level::INFO, tracing::Level::DEBUG, tracing::Level::TRACE];

fn log_level(default: tracing::Level, env: Option<&str>, verbose: u8, quiet: u8) -> tracing::Level {
    let named = env.and_then(|e| LEVELS.iter().position(|l| l.as_str().eq_ignore_ascii_case(e.trim())));
    let base = named.or_else(|| LEVELS.iter().position(|l| *l == default)).unwrap_or(2);
    let at = (base + usize::from(verbose)).saturating_sub(usize::from(quiet)).min(LEVELS.len() - 1);
    LEVELS[at]
}

fn schema(runner: bool, routes: bool) -> anyhow::Result<bool> {
    let schema = match (runner, routes) {
        (true, _) => weir_dsl::schema::runner_schema(),
        (_, true) => weir_dsl::schema::routes_schema(),
        _ => weir_dsl::schema::definition_schema(),
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", serde_json::to_string_pretty(&schema)?) {
        // `weir schema | head` closes the pipe early: not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_level;

    #[test]
    fn flags_move_the_level_from_weir_log_or_the_commands_default() {
        let rows: &[(Level, Option<&str>, u8, u8, Level)] = &[
            (Level::INFO, None, 0, 0, Level::INFO),
            (Level::INFO, None, 1, 0, Level::DEBUG),
            (Level::INFO, None, 2, 0, Level::TRACE),
            (Level::INFO, None, 5, 0, Level::TRACE),
            (Level::INFO, None, 0, 1, Level::WARN),
            (Level::INFO, None, 0, 3, Level::ERROR),
            (Level::WARN, None, 0, 0, Level::WARN),
            (Level::INFO, Some("debug"), 0, 0, Level::DEBUG),
            (Level::INFO, Some("ERROR"), 1, 0, Level::WARN),
            (Level::WARN, Some("nonsense"), 0, 1, Level::ERROR),
        ];
        for (default, env, verbose, quiet, want) in rows {
            assert_eq!(log_level(*default, *env, *verbose, *quiet), *want, "{default} {env:?} -v{verbose} -q{quiet}");
        }
    }
}
