//! `weir topic`: list, describe, create, produce to and consume from the topics of the
//! embedded log (`weir_engine::log`), so a pipeline's input can be fed and its output read
//! from a terminal. See `docs/topic.md` for the formats.
//!
//! A command opens the log itself when it is free. While a `weir run` holds it (the log allows
//! one process at a time), the command is sent to that process over its control socket and
//! runs there (`control.rs` sends it, `serve.rs` runs it), so a running pipeline can be fed
//! and watched from another terminal.
//!
//! Owns: the JSON-lines record format shared by `produce` and `consume --format json`, the
//! text format of `consume`, Kafka's default partitioner for keyed records (murmur2), and
//! ISO-8601 rendering of timestamps.
//!
//! `consume --key-type` / `--value-type` decode keys and values with the codec of a KSML type
//! (`avro:SensorData`) and print them as JSON. The codecs come from the notations of the run:
//! those of the `weir run` holding the log (its runner config's notations, schema directory and
//! registries), else those `--config` describes, else the built-in notations with schemas in
//! the current directory and the embedded registry of the storage directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value as Json};
use weir_dsl::diag::did_you_mean;
use weir_engine::broker::Broker;
use weir_engine::notation::{Codec, Notations, Target};
use weir_engine::time::now_ms;
use weir_log::{CleanupPolicy, FrameSize, Log, LogError, MAX_RECORD_BYTES, NewRecord, StoredRecord, TopicConfig};

/// The `weir topic` subcommands.
#[derive(clap::Subcommand)]
pub enum TopicCommand {
    /// List the topics: partitions, cleanup policy, start and end offsets (summed over partitions).
    List,
    /// Show a topic's config, its partitions (offsets, segments, bytes) and the consumer groups' committed offsets and lag.
    Describe {
        /// The topic.
        topic: String,
    },
    /// Create a topic.
    Create {
        /// The topic.
        topic: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Keep the latest record per key (cleanup.policy=compact; with --retention, compact,delete).
        #[arg(long)]
        compact: bool,
        /// Delete records older than this (KSML duration: 30s, 5m, 1h, 7d; -1 or 'forever' keeps them). Default 7d, none with --compact.
        #[arg(long, allow_hyphen_values = true)]
        retention: Option<String>,
    },
    /// Append records read as JSON lines from stdin (or --file): {"key": .., "value": .., "timestamp": ms, "headers": {..}, "partition": n}.
    Produce {
        /// The topic (created with 1 partition if it does not exist).
        topic: String,
        /// Read this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Each line is a value as is (no key, timestamp now), not JSON.
        #[arg(long)]
        raw: bool,
    },
    /// Print a topic's records (from its end unless --from-beginning).
    Consume(ConsumeArgs),
}

/// The arguments of `weir topic consume`.
#[derive(clap::Args)]
pub struct ConsumeArgs {
    /// The topic.
    pub topic: String,
    /// Start at the first record held, not at the end.
    #[arg(long)]
    pub from_beginning: bool,
    /// Keep waiting for new records (until Ctrl-C or --max).
    #[arg(long)]
    pub follow: bool,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Stop after this many records.
    #[arg(long)]
    pub max: Option<u64>,
    /// Output format: `text` for people, `json` lines that `weir topic produce` reads back.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Decode keys as this KSML type (`string`, `json`, `avro:SensorData`, ...) and print them as JSON.
    #[arg(long, value_name = "TYPE")]
    pub key_type: Option<String>,
    /// Decode values as this KSML type (`avro:SensorData`, `confluent_avro`, ...) and print them as JSON.
    #[arg(long, value_name = "TYPE")]
    pub value_type: Option<String>,
    /// Where to go on from, per partition (`0=12,1=40`): sent by a `consume --follow` that
    /// handed the log over to a `weir run` (`handover.rs`), not meant to be typed.
    #[arg(long, hide = true, value_name = "P=OFFSET,...", value_parser = parse_positions)]
    pub resume: Option<Positions>,
}

/// The next offset per partition of a consume.
pub type Positions = BTreeMap<u32, u64>;

/// `0=12,1=40` as positions.
fn parse_positions(text: &str) -> Result<Positions, String> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (p, offset) = part.split_once('=').ok_or_else(|| format!("expected PARTITION=OFFSET, found '{part}'"))?;
            Ok((p.parse().map_err(|_| format!("bad partition '{p}'"))?, offset.parse().map_err(|_| format!("bad offset '{offset}'"))?))
        })
        .collect()
}

impl ConsumeArgs {
    /// The `weir topic` arguments that go on following from `positions`, with `max` records
    /// left: what a `consume --follow` sends to the `weir run` it handed the log over to.
    fn resumed_args(&self, positions: &Positions, max: Option<u64>, config: Option<&Path>) -> Vec<String> {
        let mut args = vec!["consume".to_string(), self.topic.clone(), "--follow".to_string(), "--format".to_string()];
        args.push(match self.format {
            Format::Text => "text".to_string(),
            Format::Json => "json".to_string(),
        });
        let options = [
            ("--partition", self.partition.map(|p| p.to_string())),
            ("--max", max.map(|m| m.to_string())),
            ("--key-type", self.key_type.clone()),
            ("--value-type", self.value_type.clone()),
            ("--config", config.map(|c| c.display().to_string())),
        ];
        for (name, value) in options {
            if let Some(value) = value {
                args.extend([name.to_string(), value]);
            }
        }
        let spec: Vec<String> = positions.iter().map(|(p, o)| format!("{p}={o}")).collect();
        args.extend(["--resume".to_string(), spec.join(",")]);
        args
    }
}

/// How `consume` prints records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per record: `p0@12 2026-11-22T03:00:00.000Z key=… value=… headers={…}`.
    Text,
    /// One JSON object per line, in the format `produce` reads.
    Json,
}

/// Where a command reads its input (`produce`) and writes its output and notes: the
/// terminal, or a connection from another `weir topic` process (see `serve.rs`).
pub struct Io<'a> {
    pub input: &'a mut dyn Read,
    /// What the input is called in messages (`stdin`, `'file.jsonl'`).
    pub input_name: String,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

/// Where `weir topic` works: the options given before (or after) the subcommand.
pub struct Place {
    /// `--storage`, if given.
    pub storage: Option<PathBuf>,
    /// `--bootstrap-server`, if given.
    pub bootstrap_server: Option<String>,
    /// `--config`: a runner config (its notations decode `consume --key-type/--value-type`;
    /// with `--bootstrap-server`, its `kafka` section's other properties go to the client).
    pub config: Option<PathBuf>,
}

/// Runs one `weir topic` command: on Kafka with `--bootstrap-server`, else on the embedded
/// log (see [`run_embedded`]). A `--config` alone does not choose Kafka: its notations decode
/// `consume --key-type/--value-type`, as before the Kafka backend existed.
pub fn run(place: Place, command: TopicCommand, args: Vec<String>) -> anyhow::Result<bool> {
    // The embedded log's directory: also where the embedded schema registry lives.
    let storage = place.storage.clone().unwrap_or_else(|| PathBuf::from(weir_dsl::runner::DEFAULT_STORAGE_DIRECTORY));
    match &place.bootstrap_server {
        Some(servers) => {
            // On Kafka, the runner config's other client properties go along.
            let runner = place.config.as_deref().map(read_runner_config).transpose()?;
            let mut properties: Vec<(String, String)> = runner.as_ref().map(|(c, _)| kafka_properties(c)).unwrap_or_default();
            properties.push(("bootstrap.servers".to_string(), servers.clone()));
            crate::topic_kafka::run(properties, &storage, place.config.as_deref(), command)
        }
        // The runner config is read only where its notations are needed (consume with a
        // type, not through a running `weir run`, which uses its own).
        None => run_embedded(&storage, place.config.as_deref(), command, args),
    }
}

/// A runner config's `kafka` properties for the Kafka client (without Weir's own keys).
fn kafka_properties(config: &weir_dsl::runner::RunnerConfig) -> Vec<(String, String)> {
    config.kafka.iter().filter(|(k, _)| !crate::run::WEIR_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `describe`'s table of the consumer groups' positions in `topic`: (group, partition,
/// committed offset, end offset) each, with the lag; a line saying so when there are none.
/// The same on the embedded log and on Kafka.
pub(crate) fn group_table(topic: &str, positions: &[(String, u32, u64, u64)]) -> String {
    if positions.is_empty() {
        return format!("no consumer group has committed offsets for '{topic}'\n");
    }
    let mut rows = vec![row(["GROUP", "PARTITION", "COMMITTED", "END", "LAG"])];
    for (group, p, committed, end) in positions {
        rows.push(vec![group.clone(), p.to_string(), committed.to_string(), end.to_string(), end.saturating_sub(*committed).to_string()]);
    }
    table(&rows)
}

/// Reads and checks the runner config of `--config`.
fn read_runner_config(path: &Path) -> anyhow::Result<(weir_dsl::runner::RunnerConfig, PathBuf)> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read '{name}'"))?;
    let text = weir_dsl::source_text(&name, bytes).map_err(|d| anyhow!("{d}"))?;
    let (parsed, diags) = weir_dsl::runner::parse_runner_config(&name, &text);
    let errors: Vec<String> = diags.iter().filter(|d| d.is_error()).map(|d| d.render(Some(&text)).to_string()).collect();
    let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
        bail!("--config '{name}' is not a valid runner config:\n{}", errors.join("\n"));
    };
    Ok((parsed, path.to_path_buf()))
}

/// Runs one `weir topic` command against the log in `storage`. When a running `weir run`
/// holds the log, the command is sent to it over its control socket (`args` are the
/// command's arguments as typed, after `topic`).
fn run_embedded(storage: &Path, config: Option<&Path>, command: TopicCommand, args: Vec<String>) -> anyhow::Result<bool> {
    let create = matches!(command, TopicCommand::Create { .. } | TopicCommand::Produce { .. });
    let log = match open(storage, create) {
        Ok(log) => log,
        Err(Opened::Locked(message)) => {
            // The file of `produce --file` is read here, where its path means something.
            let input = || -> anyhow::Result<Option<Box<dyn Read + Send>>> {
                Ok(match &command {
                    TopicCommand::Produce { file: Some(file), .. } => {
                        Some(Box::new(File::open(file).with_context(|| format!("cannot open '{}'", file.display()))?))
                    }
                    TopicCommand::Produce { file: None, .. } => Some(Box::new(std::io::stdin())),
                    _ => None,
                })
            };
            let stream = reach_run(storage).map_err(|_| {
                anyhow!(
                    "{message}, which is not a `weir run` (nothing answers at '{}'); wait for it to end or stop it, then try again",
                    storage.join(crate::control::SOCKET).display()
                )
            })?;
            return crate::control::forward(stream, input, args);
        }
        Err(Opened::Failed(e)) => return Err(e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let result = match &command {
        TopicCommand::Produce { file: Some(path), .. } => {
            let mut file = File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?;
            let mut io = Io { input: &mut file, input_name: format!("'{}'", path.display()), out: &mut out, err: &mut err };
            execute(&log, command, &mut io, None, config)
        }
        // Holding the log for as long as it follows: handed over when a `weir run` asks.
        TopicCommand::Consume(args) if args.follow => {
            let mut stdin = std::io::empty();
            let mut io = Io { input: &mut stdin, input_name: "stdin".to_string(), out: &mut out, err: &mut err };
            follow_handing_over(storage, log, args, config, &mut io)
        }
        _ => {
            let mut stdin = std::io::stdin();
            let mut io = Io { input: &mut stdin, input_name: "stdin".to_string(), out: &mut out, err: &mut err };
            execute(&log, command, &mut io, None, config)
        }
    };
    match out.flush() {
        // `weir topic consume | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    result
}

/// Runs one command against an open log, with the given input and output. `run_notations`
/// are those of the `weir run` the command runs in, if any (for `consume --value-type`);
/// `config` is the runner config of `--config`.
pub fn execute(
    log: &Log,
    command: TopicCommand,
    io: &mut Io,
    run_notations: Option<&Notations>,
    config: Option<&Path>,
) -> anyhow::Result<bool> {
    match command {
        TopicCommand::List => list(log, io),
        TopicCommand::Describe { topic } => describe(log, &topic, io),
        TopicCommand::Create { topic, partitions, compact, retention } => {
            let config = create_config(partitions, compact, retention.as_deref())?;
            log.create_topic(&topic, config.clone())?;
            writeln!(io.out, "created topic '{topic}': {}", config_summary(&config))?;
            Ok(true)
        }
        TopicCommand::Produce { topic, raw, .. } => {
            let topic_config = match log.topic(&topic) {
                Some(config) => config,
                None => {
                    let config = TopicConfig::default();
                    log.create_topic(&topic, config.clone())?;
                    writeln!(io.err, "{}", auto_created_note(&topic, &config))?;
                    config
                }
            };
            let mut append = |p: u32, records: &[NewRecord]| -> anyhow::Result<Option<u64>> { Ok(Some(log.append(&topic, p, records)?)) };
            let input = BufReader::with_capacity(1 << 16, &mut *io.input);
            let summary = produce(&mut append, &topic, &topic_config, input, raw, &io.input_name);
            write!(io.out, "{}", summary.report(&topic))?;
            log.sync()?;
            summary.error.map_or(Ok(true), Err)
        }
        TopicCommand::Consume(args) => {
            let mut opts = ConsumeOptions::of(&args, log.dir(), config, run_notations, &mut *io.err)?;
            opts.resume = args.resume.clone();
            consume_command(log, &args, &opts, io)
        }
    }
}

/// `consume` on an open log: prints, and notes when it printed nothing.
fn consume_command(log: &Log, args: &ConsumeArgs, opts: &ConsumeOptions, io: &mut Io) -> anyhow::Result<bool> {
    let partitions = topic_config(log, &args.topic)?.partitions;
    let printed = match consume(log, &args.topic, partitions, opts, &mut *io.out) {
        // `weir topic consume | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&e) => return Ok(true),
        r => r?.printed,
    };
    if printed == 0 && !args.from_beginning && !args.follow {
        writeln!(io.err, "{}", nothing_consumed_note(&args.topic))?;
    }
    Ok(true)
}

/// `consume --follow` on the log this process opened itself: when a `weir run` asks for the
/// log (`handover.rs`), closes it and follows on through the run's control socket from the
/// offsets reached, so the run starts and its records keep coming here. Should no run take
/// the log after all, opens it again and follows on here.
fn follow_handing_over(storage: &Path, mut log: Log, args: &ConsumeArgs, config: Option<&Path>, io: &mut Io) -> anyhow::Result<bool> {
    let mut opts = ConsumeOptions::of(args, storage, config, None, &mut *io.err)?;
    opts.resume = args.resume.clone();
    let dir = storage.to_path_buf();
    opts.hand_over = Some(Box::new(move || crate::handover::wanted(&dir)));
    let partitions = topic_config(&log, &args.topic)?.partitions;
    loop {
        let consumed = match consume(&log, &args.topic, partitions, &opts, &mut *io.out) {
            Err(e) if is_broken_pipe(&e) => return Ok(true),
            r => r?,
        };
        let Some(positions) = consumed.handed_over else { return Ok(true) };
        opts.max = opts.max.map(|max| max.saturating_sub(consumed.printed));
        drop(log);
        writeln!(
            io.err,
            "note: a `weir run` asked for the embedded log in '{}': handed it over; following '{}' through that run",
            storage.display(),
            args.topic
        )?;
        log = loop {
            std::thread::sleep(crate::handover::POLL);
            if let Ok(stream) = crate::control::connect(storage) {
                io.out.flush()?;
                return crate::control::forward(stream, || Ok(None), args.resumed_args(&positions, opts.max, config));
            }
            if crate::handover::wanted(storage) {
                continue;
            }
            match open(storage, false) {
                Ok(log) => break log,
                // The run holds it and is about to serve its socket.
                Err(Opened::Locked(_)) => continue,
                Err(Opened::Failed(e)) => return Err(e),
            }
        };
        writeln!(io.err, "note: no `weir run` took the embedded log in '{}'; following here again", storage.display())?;
        opts.resume = Some(positions);
    }
}

/// What `consume` says when it printed nothing from the end of a topic.
pub(crate) fn nothing_consumed_note(topic: &str) -> String {
    format!("no records: consuming from the end of '{topic}' without --follow; add --from-beginning to read what it holds")
}

/// What `produce` says when it created the topic it writes to.
pub(crate) fn auto_created_note(topic: &str, config: &TopicConfig) -> String {
    format!(
        "note: created topic '{topic}' ({}), as Kafka does with auto.create.topics.enable; use `weir topic create` for other settings",
        config_summary(config)
    )
}

pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// How long a command waits for the control socket of the `weir run` holding the log (a run
/// opens the log a moment before it serves the socket).
const SOCKET_WAIT: Duration = Duration::from_secs(3);

/// A connection to the `weir run` holding the log in `storage`, waiting [`SOCKET_WAIT`] for
/// one that is starting.
fn reach_run(storage: &Path) -> std::io::Result<std::os::unix::net::UnixStream> {
    let started = std::time::Instant::now();
    loop {
        match crate::control::connect(storage) {
            Err(_) if started.elapsed() < SOCKET_WAIT => std::thread::sleep(crate::handover::POLL),
            r => return r,
        }
    }
}

/// Why the log could not be opened: another process holds it (then the command goes to
/// that process), or anything else.
enum Opened {
    Locked(String),
    Failed(anyhow::Error),
}

/// Opens the log in `storage`. Commands that only read (`create` false) refuse a directory
/// that holds no log rather than create one.
fn open(storage: &Path, create: bool) -> Result<Log, Opened> {
    if !create && !storage.join("topics").is_dir() {
        return Err(Opened::Failed(anyhow!(
            "no embedded log in '{}' (it has no topics/ directory); pass --storage <dir>, or create a topic there with `weir topic create` or `weir topic produce`",
            storage.display()
        )));
    }
    match Log::open(storage) {
        Ok((log, events)) => {
            for event in events {
                eprintln!("note: recovered the log: {event}");
            }
            Ok(log)
        }
        Err(LogError::Locked { dir, holder }) => {
            let by = crate::handover::holder_name(&holder);
            Err(Opened::Locked(format!("the embedded log in '{}' is in use by {by}", dir.display())))
        }
        Err(e) => Err(Opened::Failed(anyhow::Error::new(e).context(format!("cannot open the embedded log in '{}'", storage.display())))),
    }
}

/// A topic's config, or an error naming the topic with a did-you-mean.
fn topic_config(log: &Log, topic: &str) -> anyhow::Result<TopicConfig> {
    log.topic(topic).ok_or_else(|| {
        let topics = log.topics();
        let hint = match did_you_mean(topic, topics.iter().map(String::as_str)) {
            Some(h) => format!("; {h}"),
            None if topics.is_empty() => "; the log has no topics".to_string(),
            None => format!(" (topics: {})", topics.join(", ")),
        };
        anyhow!("unknown topic '{topic}' in '{}'{hint}", log.dir().display())
    })
}

// ---------------------------------------------------------------------------------------
// list, describe, create

fn list(log: &Log, io: &mut Io) -> anyhow::Result<bool> {
    let topics = log.topics();
    if topics.is_empty() {
        writeln!(io.err, "no topics in '{}'", log.dir().display())?;
        return Ok(true);
    }
    let mut rows = vec![row(["TOPIC", "PARTITIONS", "CLEANUP", "START", "END"])];
    for topic in &topics {
        let config = topic_config(log, topic)?;
        let (mut start, mut end) = (0u64, 0u64);
        for p in 0..config.partitions {
            start += log.start_offset(topic, p)?;
            end += log.end_offset(topic, p)?;
        }
        rows.push(vec![
            topic.clone(),
            config.partitions.to_string(),
            config.cleanup_policy.as_str().to_string(),
            start.to_string(),
            end.to_string(),
        ]);
    }
    write!(io.out, "{}", table(&rows))?;
    Ok(true)
}

fn describe(log: &Log, topic: &str, io: &mut Io) -> anyhow::Result<bool> {
    let config = topic_config(log, topic)?;
    let mut out = settings_text(topic, &config);
    let mut rows = vec![row(["PARTITION", "START", "END", "RECORDS", "SEGMENTS", "BYTES"])];
    let mut ends = Vec::new();
    for p in 0..config.partitions {
        let segments = log.segments(topic, p)?;
        let end = log.end_offset(topic, p)?;
        ends.push(end);
        rows.push(vec![
            p.to_string(),
            log.start_offset(topic, p)?.to_string(),
            end.to_string(),
            segments.iter().map(|s| s.records).sum::<u64>().to_string(),
            segments.len().to_string(),
            segments.iter().map(|s| s.size_bytes).sum::<u64>().to_string(),
        ]);
    }
    out.push_str(&table(&rows));
    out.push('\n');
    let mut positions = Vec::new();
    for group in groups(log.dir())? {
        for (t, p, committed) in log.committed_all(&group) {
            if t == topic
                && let Some(&end) = ends.get(p as usize)
            {
                positions.push((group.clone(), p, committed, end));
            }
        }
    }
    out.push_str(&group_table(topic, &positions));
    write!(io.out, "{out}")?;
    Ok(true)
}

/// The head of `describe`: the topic's name and settings, then a blank line.
pub(crate) fn settings_text(topic: &str, config: &TopicConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "topic '{topic}'");
    let ms = |v: Option<u64>| v.map_or("-1 (forever)".to_string(), |v| format!("{v} ({})", human_duration(v)));
    let settings = [
        ("partitions", config.partitions.to_string()),
        ("cleanup.policy", config.cleanup_policy.as_str().to_string()),
        ("retention.ms", ms(config.retention_ms)),
        ("retention.bytes", config.retention_bytes.map_or("-1 (unlimited)".to_string(), |b| b.to_string())),
        ("segment.bytes", config.segment_bytes.to_string()),
        ("delete.retention.ms", ms(Some(config.delete_retention_ms))),
    ];
    for (name, value) in settings {
        let _ = writeln!(out, "  {name:<20} {value}");
    }
    out.push('\n');
    out
}

/// The consumer groups with committed positions: the log keeps each in
/// `groups/<escaped name>.offsets` (bytes other than ASCII letters, digits, `_`, `-` as `%XX`).
fn groups(storage: &Path) -> anyhow::Result<Vec<String>> {
    let dir = storage.join("groups");
    let mut groups = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(groups),
        Err(e) => return Err(e).with_context(|| format!("cannot list '{}'", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list '{}'", dir.display()))?;
        if let Some(group) = entry.file_name().to_str().and_then(|n| n.strip_suffix(".offsets")).and_then(unescape_group) {
            groups.push(group);
        }
    }
    groups.sort();
    Ok(groups)
}

fn unescape_group(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn create_config(partitions: u32, compact: bool, retention: Option<&str>) -> anyhow::Result<TopicConfig> {
    let mut config = TopicConfig::with_partitions(partitions);
    let retention_ms = match retention.map(str::trim) {
        None => None,
        Some("forever") => Some(None),
        Some(text) => match weir_dsl::duration::parse_duration(text).map_err(|e| anyhow!("--retention: {e}"))? {
            -1 => Some(None),
            ms if ms < 0 => bail!("--retention: must not be negative (use -1 or 'forever' to keep records forever), not '{text}'"),
            ms => Some(Some(ms as u64)),
        },
    };
    match (compact, retention_ms) {
        (false, None) => {}
        (false, Some(ms)) => config.retention_ms = ms,
        (true, None) => {
            config.cleanup_policy = CleanupPolicy::Compact;
            config.retention_ms = None;
        }
        (true, Some(ms)) => {
            config.cleanup_policy = CleanupPolicy::CompactDelete;
            config.retention_ms = ms;
        }
    }
    Ok(config)
}

pub(crate) fn config_summary(config: &TopicConfig) -> String {
    let retention = config.retention_ms.map_or("forever".to_string(), human_duration);
    let partitions = plural(u64::from(config.partitions), "partition");
    format!("{partitions}, cleanup.policy={}, retention {retention}", config.cleanup_policy.as_str())
}

pub(crate) fn plural(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// `ms` in the largest KSML duration unit that divides it: `7d`, `90m`, `1500ms`.
pub(crate) fn human_duration(ms: u64) -> String {
    const UNITS: &[(&str, u64)] = &[("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];
    UNITS.iter().find(|(_, f)| ms != 0 && ms.is_multiple_of(*f)).map_or(format!("{ms}ms"), |(u, f)| format!("{}{u}", ms / f))
}

pub(crate) fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// Left-aligned columns two spaces apart, no trailing spaces.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            if i == widths.len() {
                widths.push(w);
            } else {
                widths[i] = widths[i].max(w);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------
// produce

/// Records sent per `append` at most (more are split); input is also flushed whenever the
/// reader has nothing buffered, so records typed at a terminal are appended at once.
const BATCH: usize = 1000;

/// What `produce` did: counts and offset ranges per partition, and the error that stopped it.
pub(crate) struct ProduceSummary {
    /// Partition → (first offset if known, records).
    partitions: BTreeMap<u32, (Option<u64>, u64)>,
    pub(crate) error: Option<anyhow::Error>,
}

impl ProduceSummary {
    fn total(&self) -> u64 {
        self.partitions.values().map(|(_, n)| n).sum()
    }

    pub(crate) fn report(&self, topic: &str) -> String {
        let mut out = format!("produced {} to '{topic}'\n", plural(self.total(), "record"));
        for (p, (first, n)) in &self.partitions {
            let offsets = match first {
                None => String::new(),
                Some(first) if *n == 1 => format!(", offset {first}"),
                Some(first) => format!(", offsets {first}..={}", first + n - 1),
            };
            let _ = writeln!(out, "  partition {p}: {}{offsets}", plural(*n, "record"));
        }
        out
    }
}

/// Appends a partition's records; returns the offset of the first, if the store says it.
pub(crate) type Append<'a> = dyn FnMut(u32, &[NewRecord]) -> anyhow::Result<Option<u64>> + 'a;

/// Appends the records read from `input` to `topic` (which exists, with `config`) through
/// `append`. Stops at the first bad line; what was produced before stays.
pub(crate) fn produce(
    append: &mut Append<'_>,
    topic: &str,
    config: &TopicConfig,
    input: BufReader<impl Read>,
    raw: bool,
    source: &str,
) -> ProduceSummary {
    let mut summary = ProduceSummary { partitions: BTreeMap::new(), error: None };
    if let Err(e) = produce_into(append, topic, config, input, raw, source, &mut summary) {
        summary.error = Some(e);
    }
    summary
}

fn produce_into(
    append: &mut Append<'_>,
    topic: &str,
    config: &TopicConfig,
    mut input: BufReader<impl Read>,
    raw: bool,
    source: &str,
    summary: &mut ProduceSummary,
) -> anyhow::Result<()> {
    let mut pending: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
    let mut pending_count = 0;
    let mut round_robin = 0u32;
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).context("cannot read the input")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let parsed = if raw {
            Some(Ok(Input {
                partition: None,
                record: NewRecord { timestamp: now_ms(), key: None, value: Some(line.clone()), headers: Vec::new() },
            }))
        } else {
            parse_line(&line)
        };
        let checked = parsed.map(|input| check_record(topic, config, input)).transpose();
        match checked {
            Ok(Some((explicit, record))) => {
                let partition = explicit.unwrap_or_else(|| match &record.key {
                    Some(key) => weir_engine::partitioner::partition_for_key(key, config.partitions),
                    None => {
                        let p = round_robin % config.partitions;
                        round_robin = round_robin.wrapping_add(1);
                        p
                    }
                });
                pending.entry(partition).or_default().push(record);
                pending_count += 1;
            }
            Ok(None) => {}
            Err(e) => {
                flush(append, &mut pending, summary)?;
                return Err(anyhow!("line {line_no} of {source}: {e:#}; stopped there (the records before it were produced)"));
            }
        }
        if pending_count >= BATCH || input.buffer().is_empty() {
            flush(append, &mut pending, summary)?;
            pending_count = 0;
        }
    }
    flush(append, &mut pending, summary)
}

fn flush(append: &mut Append<'_>, pending: &mut BTreeMap<u32, Vec<NewRecord>>, summary: &mut ProduceSummary) -> anyhow::Result<()> {
    for (partition, records) in std::mem::take(pending) {
        if records.is_empty() {
            continue;
        }
        let first = append(partition, &records)?;
        let entry = summary.partitions.entry(partition).or_insert((first, 0));
        entry.1 += records.len() as u64;
    }
    Ok(())
}

/// One parsed input line: the record and its explicit partition.
struct Input {
    partition: Option<u32>,
    record: NewRecord,
}

const FIELDS: &[&str] = &["key", "value", "timestamp", "headers", "partition", "keyHex", "valueHex", "offset", "time"];

/// Parses a JSON line; `None` for a blank line.
fn parse_line(line: &[u8]) -> Option<anyhow::Result<Input>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(parse_json_record(line))
}

fn parse_json_record(line: &[u8]) -> anyhow::Result<Input> {
    let json: Json = serde_json::from_slice(line).context("invalid JSON")?;
    let Json::Object(obj) = json else {
        bail!(
            "expected a JSON object such as {{\"key\": \"k\", \"value\": {{\"a\": 1}}}}, not {}; use --raw to produce lines as they are",
            kind(&json)
        )
    };
    for field in obj.keys() {
        if !FIELDS.contains(&field.as_str()) {
            let hint = did_you_mean(field, FIELDS.iter().copied()).map_or(String::new(), |h| format!("; {h}"));
            bail!("unknown field '{field}' (fields: key, value, timestamp, headers, partition){hint}");
        }
    }
    let key = bytes_field(&obj, "key", "keyHex")?.flatten();
    let value = match bytes_field(&obj, "value", "valueHex")? {
        Some(value) => value,
        None => bail!("no \"value\" (use \"value\": null for a tombstone)"),
    };
    let timestamp = match obj.get("timestamp") {
        None | Some(Json::Null) => now_ms(),
        Some(t) => t.as_i64().ok_or_else(|| anyhow!("\"timestamp\" must be milliseconds since the epoch (an integer), not {}", kind(t)))?,
    };
    let partition = match obj.get("partition") {
        None | Some(Json::Null) => None,
        Some(p) => Some(
            p.as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .ok_or_else(|| anyhow!("\"partition\" must be a non-negative integer, not {}", kind(p)))?,
        ),
    };
    let mut headers = Vec::new();
    match obj.get("headers") {
        None | Some(Json::Null) => {}
        Some(Json::Object(h)) => {
            for (name, v) in h {
                let bytes = json_bytes(v).ok_or_else(|| anyhow!("header '{name}' must not be null"))?;
                headers.push((name.clone(), bytes));
            }
        }
        Some(h) => bail!("\"headers\" must be an object of names to values, not {}", kind(h)),
    }
    Ok(Input { partition, record: NewRecord { timestamp, key, value, headers } })
}

/// A key or value field: `Some(None)` is JSON null, `None` absent; `<name>Hex` gives bytes.
fn bytes_field(obj: &Map<String, Json>, name: &str, hex_name: &str) -> anyhow::Result<Option<Option<Vec<u8>>>> {
    match (obj.get(name), obj.get(hex_name)) {
        (Some(_), Some(_)) => bail!("both \"{name}\" and \"{hex_name}\" given"),
        (Some(v), None) => Ok(Some(json_bytes(v))),
        (None, Some(Json::String(h))) => Ok(Some(Some(from_hex(h).ok_or_else(|| anyhow!("\"{hex_name}\" is not hexadecimal"))?))),
        (None, Some(v)) => bail!("\"{hex_name}\" must be a string of hexadecimal digits, not {}", kind(v)),
        (None, None) => Ok(None),
    }
}

/// The bytes a JSON value is written as: strings as their UTF-8 text, null as none, anything
/// else as compact JSON text.
fn json_bytes(v: &Json) -> Option<Vec<u8>> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// What the log would refuse, checked per line so the error names the line.
fn check_record(topic: &str, config: &TopicConfig, input: anyhow::Result<Input>) -> anyhow::Result<(Option<u32>, NewRecord)> {
    let Input { partition, record } = input?;
    if let Some(p) = partition
        && p >= config.partitions
    {
        bail!("partition {p} out of range for topic '{topic}' (it has {})", plural(u64::from(config.partitions), "partition"));
    }
    if record.key.is_none() && config.cleanup_policy.compacts() {
        bail!("record without key for compacted topic '{topic}' (cleanup.policy={})", config.cleanup_policy.as_str());
    }
    let size = record.size_bytes();
    if size > MAX_RECORD_BYTES {
        bail!("record of {size} bytes is larger than the log's maximum ({MAX_RECORD_BYTES})");
    }
    Ok((partition, record))
}

// ---------------------------------------------------------------------------------------
// consume

pub(crate) struct ConsumeOptions {
    pub(crate) from_beginning: bool,
    pub(crate) follow: bool,
    pub(crate) partition: Option<u32>,
    pub(crate) max: Option<u64>,
    pub(crate) format: Format,
    pub(crate) decoders: Decoders,
    /// Where each partition starts, instead of its beginning or end (partitions not named
    /// start as those options say).
    pub(crate) resume: Option<Positions>,
    /// Asked between reads and waits; `true` stops the consume, which then returns where it
    /// got to ([`Consumed::handed_over`]).
    pub(crate) hand_over: Option<Box<dyn Fn() -> bool>>,
}

impl ConsumeOptions {
    /// The options of `args`, decoding with the codecs of the run's notations or `config`'s.
    pub(crate) fn of(
        args: &ConsumeArgs,
        storage: &Path,
        config: Option<&Path>,
        run_notations: Option<&Notations>,
        err: &mut dyn Write,
    ) -> anyhow::Result<ConsumeOptions> {
        let types = Types { key: args.key_type.as_deref(), value: args.value_type.as_deref(), config };
        Ok(ConsumeOptions {
            from_beginning: args.from_beginning,
            follow: args.follow,
            partition: args.partition,
            max: args.max,
            format: args.format,
            decoders: Decoders::new(storage, &args.topic, &types, run_notations, err)?,
            resume: None,
            hand_over: None,
        })
    }
}

/// What a consume did.
pub(crate) struct Consumed {
    /// Records printed.
    pub(crate) printed: u64,
    /// When [`ConsumeOptions::hand_over`] stopped it: the next offset of each partition.
    pub(crate) handed_over: Option<Positions>,
}

/// The `--key-type`, `--value-type` and `--config` of a `consume`.
pub(crate) struct Types<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) value: Option<&'a str>,
    pub(crate) config: Option<&'a Path>,
}

/// The codecs `consume` decodes keys and values with (`None`: shown as bytes).
#[derive(Default)]
pub(crate) struct Decoders {
    key: Option<Arc<dyn Codec>>,
    value: Option<Arc<dyn Codec>>,
}

impl Decoders {
    /// The codecs for `types` on `topic`, from the notations of the run (see the module doc).
    /// `storage` is the embedded log's directory (its embedded schema registry).
    pub(crate) fn new(
        storage: &Path,
        topic: &str,
        types: &Types,
        run_notations: Option<&Notations>,
        err: &mut dyn Write,
    ) -> anyhow::Result<Decoders> {
        if types.key.is_none() && types.value.is_none() {
            if types.config.is_some() {
                bail!("--config gives the notations for --key-type and --value-type; give one of those too");
            }
            return Ok(Decoders::default());
        }
        let local;
        let notations = match run_notations {
            Some(notations) => {
                if types.config.is_some() {
                    writeln!(err, "note: the running `weir run` decodes with its own notations; --config is not read")?;
                }
                notations
            }
            None => {
                local = local_notations(types.config, storage)?;
                &local
            }
        };
        let names: Vec<String> = notations.names().map(str::to_string).collect();
        let decoder = |ty: Option<&str>, is_key: bool| -> anyhow::Result<Option<Arc<dyn Codec>>> {
            let Some(ty) = ty else { return Ok(None) };
            let option = if is_key { "--key-type" } else { "--value-type" };
            let parsed = weir_dsl::types::parse_user_type(ty, &names).map_err(|e| anyhow!("{option} '{ty}': {e}"))?;
            if let Some(problem) = weir_dsl::types::validate_user_type(&parsed, true).into_iter().next() {
                bail!("{option} '{ty}': {problem}");
            }
            let codec = notations
                .codec(&parsed, &Target { topic: Some(topic.to_string()), is_key })
                .map_err(|e| anyhow!("{option} '{ty}': {e}"))?;
            Ok(Some(codec))
        };
        Ok(Decoders { key: decoder(types.key, true)?, value: decoder(types.value, false)? })
    }

    /// A record's key and value as JSON, for the halves that have a codec.
    fn decode(&self, partition: u32, r: &StoredRecord) -> anyhow::Result<(Option<Json>, Option<Json>)> {
        let half = |codec: &Option<Arc<dyn Codec>>, bytes: Option<&[u8]>, what: &str| -> anyhow::Result<Option<Json>> {
            let Some(codec) = codec else { return Ok(None) };
            let failed = |e: &dyn std::fmt::Display| anyhow!("p{partition}@{} {what}: {e}", r.offset);
            let value = codec.decode(bytes).map_err(|e| failed(&e))?;
            let text = weir_engine::notation::json::to_vec(&value).map_err(|e| failed(&e))?;
            Ok(Some(serde_json::from_slice(&text).map_err(|e| failed(&e))?))
        };
        Ok((half(&self.key, r.key.as_deref(), "key")?, half(&self.value, r.value.as_deref(), "value")?))
    }
}

/// The notations `consume` decodes with when no `weir run` holds the log: those of the runner
/// config at `config` (as `weir run` builds them), else the built-in ones with schemas in the
/// current directory; registry notations without a registry use the embedded one in `storage`.
fn local_notations(config: Option<&Path>, storage: &Path) -> anyhow::Result<Notations> {
    let Some(path) = config else {
        let here = std::env::current_dir().context("cannot read the current directory")?;
        return crate::notations::for_run(None, here, storage);
    };
    let (parsed, _) = read_runner_config(path)?;
    let base = weir_dsl::runner::base_dir_of(path);
    crate::notations::for_run(Some(&parsed), parsed.schema_directory(&base), storage)
}

/// Bytes read from a partition per `read` call.
const READ_BYTES: usize = 1 << 20;

/// Prints the records of `topic` (which has `count` partitions) to `out`, partition by
/// partition (each in offset order), then, with `follow`, new records as they arrive; without
/// it, stops at the ends the partitions had when it got there.
pub(crate) fn consume(log: &dyn Broker, topic: &str, count: u32, opts: &ConsumeOptions, out: &mut dyn Write) -> anyhow::Result<Consumed> {
    let partitions: Vec<u32> = match opts.partition {
        Some(p) if p >= count => {
            bail!("partition {p} out of range for topic '{topic}' (it has {})", plural(u64::from(count), "partition"))
        }
        Some(p) => vec![p],
        None => (0..count).collect(),
    };
    let mut next = Vec::new();
    // Without --follow: the ends seen at the start, where reading stops.
    let mut stop = Vec::new();
    for &p in &partitions {
        let end = log.end_offset(topic, p)?;
        let resumed = opts.resume.as_ref().and_then(|r| r.get(&p)).copied();
        next.push(match resumed {
            Some(offset) => offset,
            None if opts.from_beginning => log.start_offset(topic, p)?.min(end),
            None => end,
        });
        stop.push(if opts.follow { u64::MAX } else { end });
    }
    let max = opts.max.unwrap_or(u64::MAX);
    let mut printed = 0u64;
    let done = |printed| Consumed { printed, handed_over: None };
    loop {
        if opts.hand_over.as_ref().is_some_and(|asked| asked()) {
            out.flush()?;
            return Ok(Consumed { printed, handed_over: Some(partitions.iter().copied().zip(next).collect()) });
        }
        let mut got = false;
        for (i, &p) in partitions.iter().enumerate() {
            // Drain this partition to its current end.
            loop {
                if printed >= max {
                    out.flush()?;
                    return Ok(done(printed));
                }
                if next[i] >= stop[i] {
                    break;
                }
                // The end before the read: if the read finds nothing from `next` on, nothing
                // lies below that end either (compaction gaps), so skipping to it is safe.
                let end = log.end_offset(topic, p)?;
                if next[i] >= end {
                    break;
                }
                let records = log.read(topic, p, next[i], READ_BYTES)?;
                let Some(last) = records.last() else {
                    next[i] = next[i].max(end);
                    break;
                };
                next[i] = last.offset + 1;
                got = true;
                let wanted = records.iter().filter(|r| r.offset < stop[i]);
                for record in wanted.take(usize::try_from(max - printed).unwrap_or(usize::MAX)) {
                    let decoded = opts.decoders.decode(p, record)?;
                    match opts.format {
                        Format::Text => writeln!(out, "{}", text_line(p, record, &decoded))?,
                        Format::Json => writeln!(out, "{}", json_line(p, record, &decoded))?,
                    }
                    printed += 1;
                }
            }
        }
        out.flush()?;
        if printed >= max || !opts.follow {
            return Ok(done(printed));
        }
        if !got {
            // Nothing new anywhere: block on the partitions in turn, a slice of time each.
            let slice = Duration::from_millis((500 / partitions.len() as u64).max(10));
            for (i, &p) in partitions.iter().enumerate() {
                if log.wait_for(topic, p, next[i], slice)? {
                    break;
                }
            }
        }
    }
}

/// Key and value decoded by `consume --key-type` / `--value-type`, as JSON (`None`: not decoded).
type Decoded = (Option<Json>, Option<Json>);

/// `p0@12 2026-11-22T03:00:00.000Z key=… value=… headers={…}`; decoded halves as compact JSON.
fn text_line(partition: u32, r: &StoredRecord, decoded: &Decoded) -> String {
    let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{}={}", escape_text(k), text_bytes(Some(v)))).collect();
    let show = |decoded: &Option<Json>, bytes: Option<&[u8]>| decoded.as_ref().map_or_else(|| text_bytes(bytes), Json::to_string);
    format!(
        "p{partition}@{} {} key={} value={} headers={{{}}}",
        r.offset,
        iso8601(r.timestamp),
        show(&decoded.0, r.key.as_deref()),
        show(&decoded.1, r.value.as_deref()),
        headers.join(", ")
    )
}

/// Bytes for people: UTF-8 text (control characters escaped, so a record stays on one line),
/// else `hex:` and the bytes in hexadecimal; `null` for none.
fn text_bytes(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => escape_text(s),
            Err(_) => format!("hex:{}", to_hex(b)),
        },
    }
}

fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One JSON line, in the format `produce` reads back (decoded halves: their values as JSON).
fn json_line(partition: u32, r: &StoredRecord, decoded: &Decoded) -> String {
    let mut obj = Map::new();
    obj.insert("partition".into(), partition.into());
    obj.insert("offset".into(), r.offset.into());
    obj.insert("timestamp".into(), r.timestamp.into());
    obj.insert("time".into(), iso8601(r.timestamp).into());
    for (name, hex_name, bytes, decoded) in [("key", "keyHex", &r.key, &decoded.0), ("value", "valueHex", &r.value, &decoded.1)] {
        match decoded.clone().or_else(|| bytes_json(bytes.as_deref())) {
            Some(v) => obj.insert(name.into(), v),
            None => obj.insert(hex_name.into(), to_hex(bytes.as_deref().unwrap_or_default()).into()),
        };
    }
    let headers: Map<String, Json> =
        r.headers.iter().map(|(k, v)| (k.clone(), Json::String(String::from_utf8_lossy(v).into_owned()))).collect();
    obj.insert("headers".into(), headers.into());
    Json::Object(obj).to_string()
}

/// The JSON that `produce` turns back into exactly these bytes (`None`: the bytes are not
/// UTF-8 and need the `…Hex` field): text that is exactly the compact JSON form of an object,
/// array, number or boolean (what a JSON serializer writes) is shown as that JSON; any other
/// text (pretty-printed JSON, `null`, a quoted string, `1e5`) as a JSON string.
fn bytes_json(bytes: Option<&[u8]>) -> Option<Json> {
    let Some(bytes) = bytes else { return Some(Json::Null) };
    let text = std::str::from_utf8(bytes).ok()?;
    match serde_json::from_str::<Json>(text) {
        Ok(v @ (Json::Object(_) | Json::Array(_) | Json::Number(_) | Json::Bool(_)))
            if serde_json::to_string(&v).is_ok_and(|s| s == text) =>
        {
            Some(v)
        }
        _ => Some(Json::String(text.to_string())),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// `ms` since the epoch as ISO-8601 UTC with milliseconds: `2026-11-22T03:00:00.000Z`.
pub fn iso8601(ms: i64) -> String {
    let t = weir_engine::time::Utc::of_millis(ms);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weir-topic-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn iso8601_formats_utc_with_millis() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_316_400_123), "2026-11-22T03:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn bytes_round_trip_through_json() {
        for text in [
            "hello",
            "",
            "null",
            "\"quoted\"",
            "42",
            "1e5",
            " 7",
            "true",
            "[1,2]",
            "{\"a\":1}",
            "{\"a\": 1}",
            "{\"b\":1,\"a\":2}",
            "{\"a\":1,\"a\":2}",
            "01",
        ] {
            let json = bytes_json(Some(text.as_bytes())).expect("utf-8");
            assert_eq!(json_bytes(&json).as_deref(), Some(text.as_bytes()), "{text}");
        }
        assert_eq!(json_bytes(&bytes_json(None).expect("null")), None);
        assert_eq!(bytes_json(Some(&[0xff, 0])), None);
        assert_eq!(bytes_json(Some(b"{\"b\":[1,true]}")), Some(serde_json::json!({"b": [1, true]})));
        assert_eq!(bytes_json(Some(b"{\"b\": 1}")), Some(Json::String("{\"b\": 1}".into())));
        assert_eq!(from_hex(&to_hex(&[0xff, 0, 0x1a])), Some(vec![0xff, 0, 0x1a]));
    }

    #[test]
    fn follow_sees_records_appended_while_it_waits() {
        let dir = temp_dir("follow");
        let (log, _) = Log::open(&dir).expect("open");
        log.create_topic("t", TopicConfig::with_partitions(2)).expect("create");
        log.append("t", 0, &[NewRecord::new(1000, Some(b"a"), Some(b"1"))]).expect("append");
        let opts = ConsumeOptions {
            from_beginning: true,
            follow: true,
            partition: None,
            max: Some(3),
            format: Format::Text,
            decoders: Decoders::default(),
            resume: None,
            hand_over: None,
        };
        let mut out = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                log.append("t", 1, &[NewRecord::new(2000, Some(b"b"), Some(b"2"))]).expect("append");
                std::thread::sleep(Duration::from_millis(300));
                log.append("t", 0, &[NewRecord::new(3000, None, Some(b"3"))]).expect("append");
            });
            assert_eq!(consume(&log, "t", 2, &opts, &mut out).expect("consume").printed, 3);
        });
        assert_eq!(
            String::from_utf8_lossy(&out),
            "p0@0 1970-01-01T00:00:01.000Z key=a value=1 headers={}\n\
             p1@0 1970-01-01T00:00:02.000Z key=b value=2 headers={}\n\
             p0@1 1970-01-01T00:00:03.000Z key=null value=3 headers={}\n"
        );
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
