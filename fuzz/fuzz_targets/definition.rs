//! A KSML definition: bytes → UTF-8 check → YAML → model → cross-checks. Must never panic,
//! hang or allocate without bound, whatever the bytes (alias bombs, deep nesting, control
//! characters, huge numbers); every problem is a diagnostic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = weir_dsl::source_text("fuzz.yaml", data.to_vec()) else { return };
    let (_, diags) = weir_dsl::parse_definition("fuzz.yaml", "fuzz", &text, &[]);
    for d in &diags {
        let _ = d.render(Some(&text));
    }
});
