//! The health probes `/startup`, `/ready` and `/live`, with KSML's rules over the states of
//! the run's two components (the stream threads and the producers, [`ComponentState`]).
//! Each answers 204 when it holds and 500 when it does not; with neither component (no
//! pipelines and no producers) all three fail, as KSML's do.

use weir_engine::metrics::ComponentState::{self, *};

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Started: every component is starting, running, or done (none is failed or not yet
    /// begun).
    Startup,
    /// Ready: the stream threads run with their partitions assigned and stores restored, and
    /// the producers have started (or are done).
    Ready,
    /// Alive: nothing failed, and the stream threads have not stopped.
    Live,
}

impl Probe {
    /// Whether the probe holds for these states.
    pub fn holds(self, streams: ComponentState, producers: ComponentState) -> bool {
        if streams == NotApplicable && producers == NotApplicable {
            return false;
        }
        match self {
            Probe::Startup => {
                let started = |s| matches!(s, NotApplicable | Starting | Started | Stopping | Stopped);
                started(streams) && started(producers)
            }
            Probe::Ready => matches!(producers, NotApplicable | Started | Stopping | Stopped) && matches!(streams, NotApplicable | Started),
            Probe::Live => !(producers == Failed || streams == Failed || streams == Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_follow_ksml() {
        use Probe::*;
        // (streams, producers, startup, ready, live)
        let cases = [
            (Created, NotApplicable, false, false, true),
            (Starting, NotApplicable, true, false, true),
            (Started, NotApplicable, true, true, true),
            (Started, Starting, true, false, true),
            (Started, Started, true, true, true),
            (Started, Stopped, true, true, true),
            (Stopping, NotApplicable, true, false, true),
            (Stopped, NotApplicable, true, false, false),
            (Failed, NotApplicable, false, false, false),
            (Started, Failed, false, false, false),
            (NotApplicable, Started, true, true, true),
            (NotApplicable, NotApplicable, false, false, false),
        ];
        for (streams, producers, startup, ready, live) in cases {
            let got = (Startup.holds(streams, producers), Ready.holds(streams, producers), Live.holds(streams, producers));
            assert_eq!(got, (startup, ready, live), "streams {streams:?}, producers {producers:?}");
        }
    }
}
