//! Runner configuration (`ksml-runner.yaml`).
