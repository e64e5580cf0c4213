//! Security attributes of the container process (capabilities, seccomp) and of nook itself
//! (a sealed image, [`exe`]).

pub mod caps;
pub mod exe;
pub mod seccomp;
