//! The control socket of a running `weir run`: `weir topic` commands from other terminals
//! run inside the process that holds the embedded log. This module has the protocol and the
//! client side; the server is `serve.rs`.
//!
//! `weir run` listens on `<storage>/weir.sock` (a Unix socket; it exists only while the log is
//! held, and a stale one left by a crash is replaced). A client sends one line, the JSON
//! array of its `weir topic` arguments, then its input (for `produce`) until it closes its
//! side. The server runs the command against its log and answers with frames: a tag byte
//! ([`STDOUT`], [`STDERR`], [`EXIT`]), a big-endian `u32` length, and the bytes. The client
//! copies them to its own stdout and stderr and exits with the status.

use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{anyhow, bail};

/// The socket's file name in the storage directory.
pub const SOCKET: &str = "weir.sock";

/// A frame of the command's standard output.
pub const STDOUT: u8 = b'o';
/// A frame of the command's standard error.
pub const STDERR: u8 = b'e';
/// The last frame: the command's exit status (one byte).
pub const EXIT: u8 = b'x';

/// A connection to the `weir run` serving the log in `storage`, if one answers. A connection
/// closed without sending anything is a probe, which the server ignores.
pub fn connect(storage: &Path) -> std::io::Result<UnixStream> {
    UnixStream::connect(storage.join(SOCKET))
}

/// Sends a `weir topic` command over `stream` (from [`connect`]) to the `weir run` holding the
/// log, relays its output, and returns its success. An `Err` means the process could not be
/// reached or went away.
/// `input` opens what the command reads (`produce`), sent after the arguments.
pub fn forward(
    stream: UnixStream,
    input: impl FnOnce() -> anyhow::Result<Option<Box<dyn Read + Send>>>,
    args: Vec<String>,
) -> anyhow::Result<bool> {
    let mut writer = stream.try_clone()?;
    let input = input()?;
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
            STDOUT => {
                let mut out = stdout.lock();
                if out.write_all(&body).and_then(|()| out.flush()).is_err() {
                    // Our reader went away (`| head`): stop quietly.
                    return Ok(true);
                }
            }
            STDERR => {
                let _ = stderr.lock().write_all(&body);
            }
            // The remote command printed its own error; report failure without adding one.
            EXIT => return Ok(body.first() == Some(&0)),
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
