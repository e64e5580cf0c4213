//! No cgroup at all: what an unprivileged user gets when none can be made and the config asks
//! for no limits (runc's rootless behaviour). Every operation is a no-op or reports nothing;
//! applying a limit is refused naming the field.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::{Backend, CgroupError};

pub(crate) struct NoCgroup;

impl Backend for NoCgroup {
    fn sub_cgroups(&self, _: &[super::SubCgroup]) -> Result<Box<dyn Backend>, CgroupError> {
        Ok(Box::new(NoCgroup))
    }
    fn create_clone_target(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn create_rest(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match super::rootless::first_limit(resources) {
            Some(field) => Err(CgroupError::NoCgroupForLimit {
                field,
                why: "the container has no cgroup (created by an unprivileged user without one)"
                    .into(),
            }),
            None => Ok(()),
        }
    }
    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        Ok(None)
    }
    fn add_process(&self, _pid: Pid) -> Result<(), CgroupError> {
        Ok(())
    }
    fn exists(&self) -> bool {
        false
    }
    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        Ok(Vec::new())
    }
    fn can_freeze(&self) -> bool {
        false
    }
    fn freeze(&self) -> Result<(), CgroupError> {
        Err(CgroupError::NoFreezer {
            path: self.display_path(),
        })
    }
    fn thaw(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }
    fn kill_natively(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }
    fn remove(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn found_existing(&self) -> bool {
        false
    }
    fn remove_created(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn display_path(&self) -> PathBuf {
        PathBuf::from("(no cgroup)")
    }
    fn stats(&self) -> Result<super::stats::Stats, CgroupError> {
        Ok(super::stats::Stats::default())
    }
    fn oom_kills(&self) -> u64 {
        0
    }
}
