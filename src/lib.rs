//! nook: a runc-compatible OCI container runtime.
//!
//! The library holds the engine; the `nook` binary (src/main.rs) is a thin command layer over it.

pub mod cgroups;
pub mod checkpoint;
pub mod container;
pub mod criu;
pub mod hooks;
pub mod id;
pub mod interval;
pub mod logging;
pub mod mountinfo;
pub mod namespaces;
pub mod netdev;
pub mod process;
pub mod resctrl;
pub mod rootfs;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sys;
pub mod tty;

/// An error and its sources on one line, `outer: inner: innermost`.
///
/// The crate's one rule for errors: a variant that has a source ends its message with that
/// source's message (`#[error("mkdir {path}: {source}")]`), or is `#[error(transparent)]`; so an
/// error's Display already is the whole chain, and printing it is all this does. The `source()`
/// links stay for callers that want to match on a cause.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    err.to_string()
}
