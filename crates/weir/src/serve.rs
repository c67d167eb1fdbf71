//! The server side of the control socket ([`crate::control`] has the protocol and the
//! client): a running `weir run` listens on `<storage>/weir.sock` and runs the `weir topic`
//! commands other terminals send against the embedded log it holds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Parser;
use weir_engine::notation::Notations;
use weir_log::Log;

pub use crate::control::SOCKET;
use crate::control::{EXIT, STDERR, STDOUT};
use crate::topic::{Io, TopicCommand, execute};

#[derive(Parser)]
#[command(name = "weir topic", no_binary_name = true)]
struct Remote {
    /// `--config` as typed (the run decodes with its own notations; noted, not read).
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// `-v`/`-q` as typed: the log level of the client, which relays the output (accepted
    /// here so that a command given them runs; not used).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    #[allow(dead_code)]
    verbose: u8,
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    #[allow(dead_code)]
    quiet: u8,
    #[command(subcommand)]
    command: TopicCommand,
}

/// Starts serving `weir topic` commands for `log`; returns the socket's path. `notations` are
/// the run's, for `consume --key-type` / `--value-type`.
pub fn start(log: Arc<Log>, storage: &Path, notations: Notations) -> anyhow::Result<PathBuf> {
    let path = storage.join(SOCKET);
    // We hold the log's lock, so a socket file here is a leftover of a crash.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).with_context(|| format!("cannot listen on '{}'", path.display()))?;
    let notations = Arc::new(notations);
    std::thread::Builder::new().name("control".to_string()).spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            let notations = Arc::clone(&notations);
            let _ = std::thread::Builder::new().name("control-client".to_string()).spawn(move || serve(&log, &notations, stream));
        }
    })?;
    Ok(path)
}

/// One frame-writing side of a connection (stdout or stderr of the remote command).
struct Frames {
    stream: Arc<Mutex<UnixStream>>,
    tag: u8,
}

fn frame(stream: &Mutex<UnixStream>, tag: u8, bytes: &[u8]) -> std::io::Result<()> {
    let mut s = stream.lock().map_err(|_| std::io::Error::other("control socket lock poisoned"))?;
    let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    s.write_all(&[tag])?;
    s.write_all(&len.to_be_bytes())?;
    s.write_all(bytes)
}

impl Write for Frames {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(u32::MAX as usize);
        frame(&self.stream, self.tag, &buf[..n])?;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn serve(log: &Log, notations: &Notations, stream: UnixStream) {
    let Ok(read_half) = stream.try_clone() else { return };
    let shared = Arc::new(Mutex::new(stream));
    let mut input = BufReader::new(read_half);
    let mut out = std::io::BufWriter::new(Frames { stream: Arc::clone(&shared), tag: STDOUT });
    let mut err = Frames { stream: Arc::clone(&shared), tag: STDERR };
    let status = match request(&mut input) {
        // A probe (`control::connect`, asking whether a run serves here): nothing to answer.
        Ok(None) => return,
        Ok(Some(args)) => match Remote::try_parse_from(&args) {
            Ok(remote) => {
                let mut io = Io { input: &mut input, input_name: "stdin".to_string(), out: &mut out, err: &mut err };
                let result = execute(log, remote.command, &mut io, Some(notations), remote.config.as_deref());
                let _ = out.flush();
                match result {
                    Ok(true) => 0,
                    Ok(false) => 1,
                    Err(e) => {
                        let _ = writeln!(err, "error: {e:#}");
                        2
                    }
                }
            }
            Err(e) => {
                let _ = write!(err, "{e}");
                2
            }
        },
        Err(e) => {
            let _ = writeln!(err, "error: bad request on the control socket: {e:#}");
            2
        }
    };
    let _ = frame(&shared, EXIT, &[status]);
}

/// The arguments of the request; `None` when the client closed without sending any.
fn request(input: &mut impl BufRead) -> anyhow::Result<Option<Vec<String>>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line).map(Some).context("the first line must be a JSON array of arguments")
}
