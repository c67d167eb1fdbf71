//! A `weir test` suite file (KSML's test-runner format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (_, diags) = weir_dsl::suite::parse_suite("suite.yaml", text);
    for d in &diags {
        let _ = d.render(Some(text));
    }
});
