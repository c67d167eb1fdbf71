//! The live status line of a long `weir run`: when stderr is a terminal, one line refreshed
//! in place (as cargo's and kcat's progress displays), with records per second in and out,
//! the lag when the backend knows it, errors and uptime. Otherwise (a file, a pipe, CI,
//! `--no-progress`, `NO_COLOR`, `TERM=dumb`) the periodic `progress:` log line instead.
//!
//! Off the record path: a timer thread reads the engine's metrics snapshot (relaxed atomics)
//! once a [`REFRESH`]; nothing here is called per record.
//!
//! Log lines and the status line share stderr: every log event goes through [`log_writer`],
//! which clears the status line, writes the event, and draws the line again below it, so
//! the status line stays the last line of the terminal and never splits a log line.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use weir_engine::metrics::EngineSnapshot;

/// How often the live line is redrawn.
pub const REFRESH: Duration = Duration::from_secs(1);

/// How `weir run` shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// The live line on the terminal.
    Live,
    /// The periodic `progress:` log line.
    LogLines,
}

/// The live line when stderr is a terminal that can take it and nobody turned it off:
/// `--no-progress`, `NO_COLOR` (set to anything non-empty, as no-color.org says) or
/// `TERM=dumb` choose log lines.
pub fn choose(no_progress: bool, stderr_is_terminal: bool, no_color: Option<&str>, term: Option<&str>) -> Display {
    let plain = no_color.is_some_and(|v| !v.is_empty()) || term == Some("dumb");
    if no_progress || !stderr_is_terminal || plain { Display::LogLines } else { Display::Live }
}

/// [`choose`] for this process: its `--no-progress`, its stderr and its environment.
pub fn choose_here(no_progress: bool) -> Display {
    use std::io::IsTerminal as _;
    let no_color = std::env::var("NO_COLOR").ok();
    let term = std::env::var("TERM").ok();
    choose(no_progress, std::io::stderr().is_terminal(), no_color.as_deref(), term.as_deref())
}

/// What the live line is computed from: counters at a moment of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Time since the run started.
    pub uptime: Duration,
    pub records_in: u64,
    /// Records written: by the pipelines and by the producers.
    pub records_out: u64,
    pub errors: u64,
}

impl Sample {
    pub fn of(engine: &EngineSnapshot, uptime: Duration) -> Sample {
        Sample { uptime, records_in: engine.records_in, records_out: engine.records_out + engine.producer_records, errors: engine.errors }
    }
}

/// The live line from two samples (`before` taken earlier) and the lag, if known:
/// `in 1.2k/s  out 1.2k/s  lag 35  errors 0  up 1:02:03`.
pub fn status_line(before: &Sample, now: &Sample, lag: Option<u64>) -> String {
    let seconds = now.uptime.saturating_sub(before.uptime).as_secs_f64();
    let rate = |a: u64, b: u64| if seconds > 0.0 { b.saturating_sub(a) as f64 / seconds } else { 0.0 };
    let mut line =
        format!("in {}/s  out {}/s", compact(rate(before.records_in, now.records_in)), compact(rate(before.records_out, now.records_out)));
    if let Some(lag) = lag {
        line.push_str(&format!("  lag {}", compact(lag as f64)));
    }
    line.push_str(&format!("  errors {}  up {}", now.errors, clock(now.uptime)));
    line
}

/// A count for a narrow line: `950`, `12.3k`, `4.5M`, `1.2G`.
fn compact(n: f64) -> String {
    match n {
        n if n < 1_000.0 => format!("{n:.0}"),
        n if n < 1_000_000.0 => format!("{:.1}k", n / 1e3),
        n if n < 1_000_000_000.0 => format!("{:.1}M", n / 1e6),
        n => format!("{:.1}G", n / 1e9),
    }
}

/// `0:07`, `12:03`, `1:02:03`, `3d 4:05:06`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (days, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, h) => format!("{h}:{m:02}:{s:02}"),
        (d, h) => format!("{d}d {h}:{m:02}:{s:02}"),
    }
}

/// The live line on the terminal now, if any (what [`log_writer`] draws again).
static SHOWN: Mutex<Option<String>> = Mutex::new(None);

/// Erases the current terminal line.
const CLEAR: &[u8] = b"\r\x1b[2K";

/// Draws `line` as the live line, in place of the one shown.
pub fn show(line: &str) {
    let Ok(mut shown) = SHOWN.lock() else { return };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(CLEAR).and_then(|()| err.write_all(line.as_bytes())).and_then(|()| err.flush());
    *shown = Some(line.to_string());
}

/// Erases the live line, leaving the cursor at the start of an empty line.
pub fn clear() {
    let Ok(mut shown) = SHOWN.lock() else { return };
    if shown.take().is_some() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(CLEAR).and_then(|()| err.flush());
    }
}

/// Where log events go: stderr, around the live line (see the module doc).
pub fn log_writer() -> LogWriter {
    LogWriter
}

/// Writes to stderr; while a live line is shown, each write is put above it.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shown = SHOWN.lock().ok();
        let mut err = std::io::stderr().lock();
        match shown.as_ref().and_then(|s| s.as_deref()) {
            Some(line) => {
                err.write_all(CLEAR)?;
                err.write_all(buf)?;
                if !buf.ends_with(b"\n") {
                    err.write_all(b"\n")?;
                }
                err.write_all(line.as_bytes())?;
                err.flush()?;
            }
            None => err.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_needs_a_terminal_and_nobody_turning_it_off() {
        assert_eq!(choose(false, true, None, Some("xterm-256color")), Display::Live);
        assert_eq!(choose(false, true, Some(""), None), Display::Live, "an empty NO_COLOR does not count");
        assert_eq!(choose(false, false, None, Some("xterm")), Display::LogLines, "a file, a pipe, CI");
        assert_eq!(choose(true, true, None, Some("xterm")), Display::LogLines, "--no-progress");
        assert_eq!(choose(false, true, Some("1"), Some("xterm")), Display::LogLines, "NO_COLOR");
        assert_eq!(choose(false, true, None, Some("dumb")), Display::LogLines, "TERM=dumb");
    }

    #[test]
    fn the_live_line_gives_rates_over_the_interval_lag_errors_and_uptime() {
        let before = Sample { uptime: Duration::from_secs(60), records_in: 1_000, records_out: 500, errors: 1 };
        let now = Sample { uptime: Duration::from_secs(62), records_in: 25_600, records_out: 1_500, errors: 3 };
        assert_eq!(status_line(&before, &now, Some(35)), "in 12.3k/s  out 500/s  lag 35  errors 3  up 1:02");
        assert_eq!(status_line(&now, &now, None), "in 0/s  out 0/s  errors 3  up 1:02", "no lag when the backend does not know it");
        let long = Sample { uptime: Duration::from_secs(3 * 86_400 + 4 * 3_600 + 5 * 60 + 6), ..now };
        assert!(status_line(&now, &long, Some(2_500_000)).ends_with("lag 2.5M  errors 3  up 3d 4:05:06"));
        assert_eq!(clock(Duration::from_secs(3_723)), "1:02:03");
        assert_eq!(clock(Duration::from_secs(7)), "0:07");
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(4_500_000_000.0), "4.5G");
    }

    #[test]
    fn producers_count_as_output() {
        let engine = EngineSnapshot { records_in: 4, records_out: 2, producer_records: 5, errors: 1, ..EngineSnapshot::default() };
        assert_eq!(
            Sample::of(&engine, Duration::from_secs(9)),
            Sample { uptime: Duration::from_secs(9), records_in: 4, records_out: 7, errors: 1 }
        );
    }
}
