//! The server side of the control socket ([`crate::control`] has the protocol and the
//! client): a running `weir run` listens on `<storage>/weir.sock` and runs the `weir topic`
//! commands other terminals send against the embedded log it holds.
//!
//! Only the user running `weir run` may use it: the socket file is made `0600` (connecting
//! needs write permission on it), and each connection's peer is checked (`SO_PEERCRED`)
//! against this process's user. A request line is at most [`MAX_REQUEST`] bytes and must come
//! within [`REQUEST_TIMEOUT`]; at most [`MAX_CONNECTIONS`] are served at once (one thread
//! each), and one more is refused with a message.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make '{}' private to this user", path.display()))?;
    let notations = Arc::new(notations);
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("control".to_string()).spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(why) = admit(&stream, &active) {
                refuse(&stream, &why);
                continue;
            }
            let (log, notations, served) = (Arc::clone(&log), Arc::clone(&notations), Arc::clone(&active));
            let spawned = std::thread::Builder::new().name("control-client".to_string()).spawn(move || {
                serve(&log, &notations, stream);
                served.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    })?;
    Ok(path)
}

/// The longest request line (the command's arguments as JSON).
pub const MAX_REQUEST: u64 = 64 * 1024;
/// How long a connection may take to send its request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 32;

/// Takes a connection on (counting it in `active`), or says why not: another user's, or one
/// too many.
fn admit(stream: &UnixStream, active: &AtomicUsize) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(peer) if peer.uid.as_raw() == me => {}
        Ok(peer) => {
            tracing::warn!("control socket: refused a connection from user {} (only user {me} may use it)", peer.uid.as_raw());
            return Err(format!("only the user running `weir run` (uid {me}) may use its control socket"));
        }
        Err(e) => return Err(format!("cannot check who connected: {e}")),
    }
    if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        active.fetch_sub(1, Ordering::SeqCst);
        return Err(format!("the running `weir run` already serves {MAX_CONNECTIONS} `weir topic` commands; try again when one ends"));
    }
    Ok(())
}

/// Answers a connection that is not served: the reason on its stderr, exit status 2.
fn refuse(stream: &UnixStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let Ok(clone) = stream.try_clone() else { return };
    let shared = Mutex::new(clone);
    let _ = frame(&shared, STDERR, format!("error: {why}\n").as_bytes());
    let _ = frame(&shared, EXIT, &[2]);
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
    // The request line must come soon; what follows (produce's records) may take its time.
    let _ = read_half.set_read_timeout(Some(REQUEST_TIMEOUT));
    let shared = Arc::new(Mutex::new(stream));
    let mut input = BufReader::new(read_half);
    let mut out = std::io::BufWriter::new(Frames { stream: Arc::clone(&shared), tag: STDOUT });
    let mut err = Frames { stream: Arc::clone(&shared), tag: STDERR };
    let asked = request(&mut input);
    let _ = input.get_ref().set_read_timeout(None);
    let status = match asked {
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
/// The request line (at most [`MAX_REQUEST`] bytes, ending in a newline); `None` for a probe
/// (a connection closed without a request).
fn request(input: &mut impl BufRead) -> anyhow::Result<Option<Vec<String>>> {
    let mut line = String::new();
    if input.take(MAX_REQUEST).read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if !line.ends_with('\n') {
        anyhow::bail!("the request line must end within {MAX_REQUEST} bytes, with a newline");
    }
    serde_json::from_str(&line).map(Some).context("the first line must be a JSON array of arguments")
}
