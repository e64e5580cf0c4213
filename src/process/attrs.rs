//! Process attributes the init sets on itself before execve: rlimits, the user and groups,
//! umask, oom_score_adj and namespaced sysctls.

use std::path::PathBuf;

use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, User};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    #[error("process.rlimits: set {typ:?} to soft {soft} hard {hard}: {source}")]
    Rlimit {
        typ: PosixRlimitType,
        soft: u64,
        hard: u64,
        #[source]
        source: nix::Error,
    },
    #[error("process.user.additionalGids: setgroups: {0}")]
    Groups(#[source] nix::Error),
    #[error("process.user.gid: setresgid({gid}): {source}")]
    Gid {
        gid: u32,
        #[source]
        source: nix::Error,
    },
    #[error("process.user.uid: setresuid({uid}): {source}")]
    Uid {
        uid: u32,
        #[source]
        source: nix::Error,
    },
    #[error("{field}: write {path}: {source}")]
    ProcWrite {
        field: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{field}: {path} is not on procfs; refusing to write")]
    NotProcfs { field: String, path: PathBuf },
}

pub fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<(), AttrError> {
    for l in limits {
        setrlimit(resource(l.typ()), l.soft(), l.hard()).map_err(|source| AttrError::Rlimit {
            typ: l.typ(),
            soft: l.soft(),
            hard: l.hard(),
            source,
        })?;
    }
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// Become the container user. Supplementary groups first (needs CAP_SETGID), then the gid,
/// then the uid, which gives up the right to change the other two.
pub fn switch_user(user: &User) -> Result<(), AttrError> {
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match setgroups(&groups) {
        // In a user namespace an unprivileged runtime made (setgroups denied, as it must be
        // before such a runtime writes the gid map), no groups can be set; with none asked
        // for, the process keeps those it came with, as in runc.
        Err(nix::Error::EPERM) if groups.is_empty() && setgroups_denied() => {}
        other => other.map_err(AttrError::Groups)?,
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).map_err(|source| AttrError::Gid {
        gid: user.gid(),
        source,
    })?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).map_err(|source| AttrError::Uid {
        uid: user.uid(),
        source,
    })?;
    Ok(())
}

/// The umask the spec asks for, or 0022 as runc uses when it says nothing.
pub fn set_umask(user: &User) {
    sys::set_umask(user.umask().unwrap_or(0o022));
}

/// `sys::write_proc` with the spec field it applies named in its error.
pub fn write_proc(field: &str, path: PathBuf, value: &str) -> Result<(), AttrError> {
    sys::write_proc(&path, value).map_err(|e| match e {
        sys::ProcWriteError::Io(source) => AttrError::ProcWrite {
            field: field.to_string(),
            path,
            source,
        },
        sys::ProcWriteError::NotProcfs => AttrError::NotProcfs {
            field: field.to_string(),
            path,
        },
    })
}

/// `net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`.
pub fn sysctl_path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_proc_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("kernel/shmmax"),
            PathBuf::from("/proc/sys/kernel/shmmax")
        );
    }

    #[test]
    fn write_proc_refuses_other_filesystems() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let err = write_proc("linux.sysctl", tmp.path().to_path_buf(), "1").unwrap_err();
        assert!(matches!(err, AttrError::NotProcfs { .. }), "{err}");
    }
}
