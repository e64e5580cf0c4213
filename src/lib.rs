//! nook: a runc-compatible OCI container runtime.
//!
//! The library holds the engine; the `nook` binary (src/main.rs) is a thin command layer over it.

pub mod cgroups;
pub mod container;
pub mod hooks;
pub mod id;
pub mod logging;
pub mod mountinfo;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sys;
pub mod tty;

/// An error and its sources on one line, `outer: inner: innermost`, skipping a source whose
/// text the outer message already contains.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}
