//! Security attributes of the container process: capabilities (and, later, seccomp and LSMs).

pub mod caps;
