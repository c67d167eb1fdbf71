//! The control socket of a running `weir run`: `weir topic` commands from other terminals
//! run inside the process that holds the embedded log.
//!
//! `weir run` listens on `<storage>/weir.sock` (a Unix socket; it exists only while the log is
//! held, and a stale one left by a crash is replaced). A client sends one line, the JSON
//! array of its `weir topic` arguments, then its input (for `produce`) until it closes its
//! side. The server runs the command against its log and answers with frames: a tag byte
//! (`o` stdout, `e` stderr, `x` exit status), a big-endian `u32` length, and the bytes. The
//! client copies them to its own stdout and stderr and exits with the status.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use weir_engine::notation::Notations;
use weir_log::Log;

use crate::topic::{Io, TopicCommand, execute};

pub const SOCKET: &str = "weir.sock";

#[derive(Parser)]
#[command(name = "weir topic", no_binary_name = true)]
struct Remote {
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
    let mut out = std::io::BufWriter::new(Frames { stream: Arc::clone(&shared), tag: b'o' });
    let mut err = Frames { stream: Arc::clone(&shared), tag: b'e' };
    let status = match request(&mut input) {
        Ok(args) => match Remote::try_parse_from(&args) {
            Ok(remote) => {
                let mut io = Io { input: &mut input, input_name: "stdin".to_string(), out: &mut out, err: &mut err };
                let result = execute(log, remote.command, &mut io, Some(notations));
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
    let _ = frame(&shared, b'x', &[status]);
}

fn request(input: &mut impl BufRead) -> anyhow::Result<Vec<String>> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    serde_json::from_str(&line).context("the first line must be a JSON array of arguments")
}

/// Sends a `weir topic` command to the `weir run` holding the log in `storage`, relays its
/// output, and returns its success. An `Err` means the process could not be reached.
pub fn forward(storage: &Path, command: &TopicCommand, args: Vec<String>) -> anyhow::Result<bool> {
    let path = storage.join(SOCKET);
    let stream = UnixStream::connect(&path).with_context(|| format!("cannot connect to '{}'", path.display()))?;
    let mut writer = stream.try_clone()?;
    // The file of `produce --file` is read here, where its path means something.
    let input: Option<Box<dyn Read + Send>> = match command {
        TopicCommand::Produce { file: Some(file), .. } => {
            Some(Box::new(std::fs::File::open(file).with_context(|| format!("cannot open '{}'", file.display()))?))
        }
        TopicCommand::Produce { file: None, .. } => Some(Box::new(std::io::stdin())),
        _ => None,
    };
    let args = without_file(args);
    writeln!(writer, "{}", serde_json::to_string(&args)?)?;
    match input {
        Some(mut input) => {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut input, &mut writer);
                let _ = writer.shutdown(Shutdown::Write);
            });
        }
        None => writer.shutdown(Shutdown::Write)?,
    }
    let mut reader = BufReader::new(stream);
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    loop {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).map_err(|_| anyhow!("the running `weir run` closed the connection"))?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        match head[0] {
            b'o' => {
                let mut out = stdout.lock();
                if out.write_all(&body).and_then(|()| out.flush()).is_err() {
                    // Our reader went away (`| head`): stop quietly.
                    return Ok(true);
                }
            }
            b'e' => {
                let _ = stderr.lock().write_all(&body);
            }
            // The remote command printed its own error; report failure without adding one.
            b'x' => return Ok(body.first() == Some(&0)),
            other => bail!("unexpected frame {other} on the control socket"),
        }
    }
}

/// The arguments without `--file <path>` / `--file=<path>`: the client sends the file's
/// contents as the input instead.
fn without_file(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip_next = false;
    for arg in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if arg == "--file" {
            skip_next = true;
        } else if !arg.starts_with("--file=") {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_arguments_are_not_forwarded() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(without_file(args(&["produce", "t", "--file", "x.jsonl", "--raw"])), args(&["produce", "t", "--raw"]));
        assert_eq!(without_file(args(&["produce", "--file=x", "t"])), args(&["produce", "t"]));
    }
}
