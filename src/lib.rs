//! nook: a runc-compatible OCI container runtime.
//!
//! The library holds the engine; the `nook` binary (src/main.rs) is a thin command layer over it.

pub mod cgroups;
pub mod rootfs;
pub mod sys;
