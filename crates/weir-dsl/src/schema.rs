//! JSON schema of the DSL.
