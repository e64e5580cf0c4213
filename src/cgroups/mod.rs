//! cgroups v1 and v2 behind one interface. (Temporary stand-in until the real module lands.)
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{field}: not supported")]
    Unsupported { field: &'static str },
}

pub struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let path = cgroups_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/nook").join(id));
        Ok(Cgroup { path })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn create(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn apply(&self, _resources: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        Ok(None)
    }
    pub fn add_process(&self, _pid: Pid) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        Ok(vec![])
    }
    pub fn signal_all(&self, _sig: Signal) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn freeze(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn thaw(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
