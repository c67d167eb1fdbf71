//! The `xml` notation (being built).

use std::sync::Arc;

use weir_dsl::types::UserType;

use super::{Codec, CodecContext};

pub fn codec(_ty: &UserType, cx: &CodecContext) -> Result<Arc<dyn Codec>, String> {
    Err(format!("notation '{}' is not supported yet", cx.notation))
}
