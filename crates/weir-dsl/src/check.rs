//! Cross-checks over a whole definition.
use crate::diag::Diagnostic;
use crate::model::Definition;

pub fn check(_def: &Definition, _diags: &mut Vec<Diagnostic>) {}
