//! The `avro` notation (being built).

use std::sync::Arc;

use weir_dsl::types::UserType;

use super::{Codec, CodecContext};

/// Whose wire framing the codec writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Confluent,
    Apicurio,
}

pub fn codec(_ty: &UserType, cx: &CodecContext, _vendor: Vendor) -> Result<Arc<dyn Codec>, String> {
    Err(format!("notation '{}' is not supported yet", cx.notation))
}
