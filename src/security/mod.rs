//! Security attributes of the container process: capabilities, seccomp and LSM labels.

pub mod caps;
pub mod lsm;
pub mod seccomp;
