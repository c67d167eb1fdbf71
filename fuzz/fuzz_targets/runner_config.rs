//! A runner config (`ksml-runner.yaml`), with its inline definitions and `${VAR}` references.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (_, diags) = weir_dsl::runner::parse_runner_config("ksml-runner.yaml", text);
    for d in &diags {
        let _ = d.render(Some(text));
    }
});
