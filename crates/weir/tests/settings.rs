//! No setting is ignored silently: every runner-config or definition key Weir accepts but
//! does not act on is a warning naming the key at its line, and `weir check` and `weir run`
//! give the same one. And both report a runner config naming a missing definition file the
//! same way: exit 1, the config's line, a did-you-mean.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("weir-settings-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn weir(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("WEIR_LOG", "warn")
        .output()
        .expect("run weir")
}

const DEFINITION: &str = "\
stores:
  seen:
    type: keyValue
    keyType: string
    valueType: string
    caching: true
pipelines:
  main:
    from:
      topic: in
      keyType: string
      valueType: string
    to:
      topic: out
";

/// One row per setting Weir accepts but does not act on: the runner config's extra lines
/// (under `ksml:` or `kafka:`), the file and line the warning must name, and the key it must
/// name.
struct Row {
    ksml: &'static str,
    kafka: &'static str,
    at: &'static str,
    key: &'static str,
}

const ROWS: &[Row] = &[
    Row { ksml: "  prometheus:\n    configFile: rules.yaml\n", kafka: "", at: "ksml-runner.yaml:5:17", key: "'prometheus.configFile'" },
    Row {
        ksml: "  errorHandling:\n    consume:\n      handler: retryOnFail\n",
        kafka: "",
        at: "ksml-runner.yaml:6:16",
        key: "'retryOnFail' of errorHandling.consume",
    },
    Row {
        ksml: "  errorHandling:\n    produce:\n      handler: retryOnFail\n",
        kafka: "",
        at: "ksml-runner.yaml:6:16",
        key: "'retryOnFail' of errorHandling.produce",
    },
    Row { ksml: "", kafka: "  num.standby.replicas: 1\n", at: "ksml-runner.yaml:6:3", key: "'num.standby.replicas'" },
    Row { ksml: "", kafka: "  topology.optimization: all\n", at: "ksml-runner.yaml:6:3", key: "'topology.optimization'" },
    Row { ksml: "", kafka: "  state.dir: /tmp/state\n", at: "ksml-runner.yaml:6:3", key: "'state.dir'" },
    Row { ksml: "", kafka: "  cache.max.bytes.buffering: 0\n", at: "ksml-runner.yaml:6:3", key: "'cache.max.bytes.buffering'" },
    // A definition's key: the store's `caching`.
    Row { ksml: "", kafka: "", at: "./app.yaml:6:14", key: "'caching' of store 'seen'" },
];

fn runner(row: &Row) -> String {
    format!(
        "ksml:\n  definitions:\n    app: app.yaml\n{}kafka:\n  application.id: settings-test\n{}  bootstrap.servers: localhost:9092\n",
        row.ksml, row.kafka
    )
}

/// The warnings a command printed: each `warning:` line with the location line after it.
fn warnings(stderr: &str) -> Vec<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("warning: "))
        .map(|(i, l)| format!("{l}\n{}", lines.get(i + 1).unwrap_or(&"")))
        .collect()
}

#[test]
fn every_setting_weir_does_not_act_on_is_a_warning_at_its_line_in_check_and_run() {
    for row in ROWS {
        let dir = TempDir::new("row");
        dir.write("app.yaml", DEFINITION);
        dir.write("ksml-runner.yaml", &runner(row));
        let check = weir(&dir.0, &["check", "ksml-runner.yaml"]);
        let run = weir(&dir.0, &["run", "--embedded", "--until-idle", "ksml-runner.yaml"]);
        let (check_err, run_err) = (String::from_utf8_lossy(&check.stderr), String::from_utf8_lossy(&run.stderr));
        assert_eq!(check.status.code(), Some(0), "{}: {check_err}", row.key);
        assert_eq!(run.status.code(), Some(0), "{}: {run_err}", row.key);
        let found: Vec<String> = warnings(&check_err).into_iter().filter(|w| w.contains(row.key)).collect();
        assert_eq!(found.len(), 1, "{}: one warning naming it\n{check_err}", row.key);
        assert!(found[0].contains("is not acted on") || found[0].contains("is not read"), "{}: says so\n{}", row.key, found[0]);
        assert!(found[0].contains(&format!("--> {} (at ", row.at)), "{}: at {}\n{}", row.key, row.at, found[0]);
        // `weir run` prints the same warnings before it starts.
        assert_eq!(warnings(&check_err), warnings(&run_err), "{}: check and run disagree", row.key);
    }
}

#[test]
fn a_setting_weir_acts_on_gives_no_warning() {
    let dir = TempDir::new("quiet");
    dir.write("app.yaml", &DEFINITION.replace("    caching: true\n", "    logging: true\n"));
    let row = Row {
        ksml: "  enablePipelines: true\n  applicationServer:\n    enabled: true\n    port: 8080\n  prometheus:\n    enabled: true\n",
        kafka: "  commit.interval.ms: 100\n  num.stream.threads: 1\n  repartition.purge.interval.ms: 1000\n  processing.guarantee: at_least_once\n  application.server: weir-1.example:8080\n",
        at: "",
        key: "",
    };
    dir.write("ksml-runner.yaml", &runner(&row));
    let check = weir(&dir.0, &["check", "ksml-runner.yaml"]);
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains("checked 1 definition file and 1 runner config: 0 errors, 0 warnings"), "{err}");
}

#[test]
fn check_and_run_agree_on_a_missing_definition_file() {
    let dir = TempDir::new("missing");
    dir.write("app.yaml", DEFINITION);
    let row = Row { ksml: "", kafka: "", at: "", key: "" };
    dir.write("ksml-runner.yaml", &runner(&row).replace("app: app.yaml", "app: ap.yaml"));
    let check = weir(&dir.0, &["check", "ksml-runner.yaml"]);
    let run = weir(&dir.0, &["run", "--embedded", "--until-idle", "ksml-runner.yaml"]);
    for (what, out) in [("check", &check), ("run", &run)] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains("error: cannot read definition './ap.yaml'"), "{what}: {err}");
        assert!(err.contains("--> ksml-runner.yaml:3:10 (at ksml.definitions.app)"), "{what}: {err}");
        assert!(err.contains("= help: did you mean 'app.yaml'?"), "{what}: {err}");
    }
    // The unreadable file is not counted as a definition checked.
    assert!(String::from_utf8_lossy(&check.stderr).contains("checked 0 definition files and 1 runner config: 1 error, 0 warnings"));
}
