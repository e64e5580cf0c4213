//! Security attributes of the container process (capabilities, seccomp, LSM labels) and of
//! nook itself (a sealed image, [`exe`]).

pub mod caps;
pub mod enosys;
pub mod exe;
pub mod lsm;
pub mod seccomp;
