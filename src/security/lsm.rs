//! Linux security modules: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`.
//!
//! Where the LSM is enabled the labels are applied: the process ones by writing the exec
//! attribute of the calling thread just before execve (the kernel switches label at exec),
//! the mount label as a `context=` mount option. Where it is not, a config or exec that asks
//! for one is refused at validation, naming the field, before anything exists. runc 1.1.5
//! refuses all three too, but only `selinuxLabel` up front: the AppArmor profile and the mount
//! label fail later, inside its init. Detection only runs when a field is set.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::process::attrs::{self, AttrError};

/// The securityfs flag AppArmor exposes while it is the active LSM.
const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
/// Where selinuxfs is mounted while SELinux is enabled.
const SELINUXFS: &str = "/sys/fs/selinux";
/// The exec attribute of this thread, per LSM (kernel 5.8+) and the shared legacy one.
const APPARMOR_EXEC_ATTR: &str = "/proc/thread-self/attr/apparmor/exec";
const LEGACY_EXEC_ATTR: &str = "/proc/thread-self/attr/exec";

#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error("{field}: {lsm} is not enabled on this host")]
    NotEnabled {
        field: &'static str,
        lsm: &'static str,
    },
    #[error(transparent)]
    Attr(#[from] AttrError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lsm {
    AppArmor,
    SELinux,
}

impl Lsm {
    fn name(self) -> &'static str {
        match self {
            Lsm::AppArmor => "AppArmor",
            Lsm::SELinux => "SELinux",
        }
    }

    fn enabled(self) -> bool {
        match self {
            Lsm::AppArmor => apparmor_enabled(),
            Lsm::SELinux => selinux_enabled(),
        }
    }
}

/// What `/sys/module/apparmor/parameters/enabled` says: "Y" while AppArmor is on.
pub fn apparmor_flag_enabled(contents: &[u8]) -> bool {
    contents.first() == Some(&b'Y')
}

pub fn apparmor_enabled() -> bool {
    std::fs::read(APPARMOR_ENABLED).is_ok_and(|c| apparmor_flag_enabled(&c))
}

/// SELinux is enabled when selinuxfs is mounted where userspace expects it.
pub fn selinux_enabled() -> bool {
    use nix::sys::statfs::{statfs, SELINUX_MAGIC};
    statfs(SELINUXFS).is_ok_and(|s| s.filesystem_type() == SELINUX_MAGIC)
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn require(field: &'static str, lsm: Lsm) -> Result<(), LsmError> {
    if lsm.enabled() {
        Ok(())
    } else {
        Err(LsmError::NotEnabled {
            field,
            lsm: lsm.name(),
        })
    }
}

/// Refuse process labels for an LSM this host does not run.
pub fn check_process(process: &Process) -> Result<(), LsmError> {
    if set(process.apparmor_profile()).is_some() {
        require("process.apparmorProfile", Lsm::AppArmor)?;
    }
    if set(process.selinux_label()).is_some() {
        require("process.selinuxLabel", Lsm::SELinux)?;
    }
    Ok(())
}

/// Refuse a mount label when SELinux is not enabled.
pub fn check_mount_label(label: &Option<String>) -> Result<(), LsmError> {
    if set(label).is_some() {
        require("linux.mountLabel", Lsm::SELinux)?;
    }
    Ok(())
}

/// What to write to an AppArmor exec attribute: the profile takes effect at the next execve.
pub fn apparmor_exec_value(profile: &str) -> String {
    format!("exec {profile}")
}

/// Set the labels the process takes on at execve. Called in the container, after the rootfs
/// is in place (so /proc is the container's procfs) and before seccomp, which may forbid the
/// writes. Every write goes through `attrs::write_proc`, which refuses a file not on procfs
/// (CVE-2025-52881 class: an overmount must not swallow the label).
pub fn apply_exec_labels(process: &Process) -> Result<(), LsmError> {
    if let Some(profile) = set(process.apparmor_profile()) {
        let path = if Path::new(APPARMOR_EXEC_ATTR).exists() {
            APPARMOR_EXEC_ATTR
        } else {
            LEGACY_EXEC_ATTR
        };
        attrs::write_proc(
            "process.apparmorProfile",
            PathBuf::from(path),
            &apparmor_exec_value(profile),
        )?;
    }
    if let Some(label) = set(process.selinux_label()) {
        attrs::write_proc(
            "process.selinuxLabel",
            PathBuf::from(LEGACY_EXEC_ATTR),
            label,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_flag_is_y_or_not() {
        assert!(apparmor_flag_enabled(b"Y\n"));
        assert!(!apparmor_flag_enabled(b"N\n"));
        assert!(!apparmor_flag_enabled(b""));
    }

    #[test]
    fn apparmor_exec_attribute_names_the_profile() {
        assert_eq!(apparmor_exec_value("docker-default"), "exec docker-default");
    }

    #[test]
    fn unset_or_empty_labels_need_no_lsm() {
        let p = Process::default();
        check_process(&p).unwrap();
        check_mount_label(&None).unwrap();
        check_mount_label(&Some(String::new())).unwrap();
    }

    #[test]
    fn a_label_for_a_disabled_lsm_names_the_field() {
        if selinux_enabled() {
            return;
        }
        let err =
            check_mount_label(&Some("system_u:object_r:container_file_t:s0".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linux.mountLabel: SELinux is not enabled on this host"
        );
    }
}
