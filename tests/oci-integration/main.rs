//! OCI integration tests: each test builds a busybox bundle and drives the runtime binary
//! (`$NOOK_RUNTIME`, default: the nook binary cargo built) like containerd or podman would.
//! Every test must also pass against runc (`NOOK_RUNTIME=/usr/sbin/runc`); that is how we know
//! the tests themselves are right. Must run as root.

mod support;

mod bad_input;
mod checkpoint;
mod cli;
mod compat;
mod engine;
mod exec;
mod hooks;
mod idmap;
mod lifecycle;
mod lsm;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod rootless;
mod seccomp;
mod security;
mod spec13;
mod spec13_cgroups;
mod systemd;
mod tty;
mod views;
