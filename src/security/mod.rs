//! Security attributes of the container process: capabilities and seccomp (LSMs later).

pub mod caps;
pub mod seccomp;
