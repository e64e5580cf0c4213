//! Idmapped bind mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap` and `ridmap`).
//!
//! The runtime makes them before the fork, as the host's root: a detached copy of the source
//! (`open_tree`), given the mapping of a user namespace made only to carry it
//! (`mount_setattr(MOUNT_ATTR_IDMAP)`); the init attaches the copy at the destination. A file
//! whose id on the source is a mapping's `containerID` shows through the mount as its `hostID`
//! (as seen from the host; inside a user namespace, as whatever that namespace maps it to), and
//! writes through the mount land with the source's ids. `idmap` without mappings takes the
//! container's user namespace mappings; `ridmap` maps every mount of an `rbind` tree.
//!
//! Refusals come before anything exists: a mount that is not a bind, mappings without a user
//! namespace to take them from, and a source whose filesystem does not support idmapped
//! mounts (overlayfs, for one, answers EINVAL), each naming the mount.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use oci_spec::runtime::{Linux, LinuxIdMapping, Mount};

use super::options::MountOptions;
use crate::sys::mount as mount_api;
use crate::sys::Forked;

/// MOUNT_ATTR_IDMAP from <linux/mount.h>.
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[derive(Debug, thiserror::Error)]
pub enum IdmapError {
    #[error("mounts: {destination}: {why}")]
    Invalid {
        destination: PathBuf,
        why: &'static str,
    },
    #[error("mounts: {destination}: idmapped mount of {source_path}: {step}: {errno}{hint}")]
    Step {
        destination: PathBuf,
        source_path: PathBuf,
        step: &'static str,
        errno: Errno,
        hint: &'static str,
    },
}

/// Whether a mount asks to be idmapped: a cheap look, with nothing parsed.
pub fn asked(m: &Mount) -> bool {
    m.uid_mappings().is_some()
        || m.gid_mappings().is_some()
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "idmap" || o == "ridmap")
}

/// The mappings of an idmapped mount, and whether every mount of the tree gets them.
#[derive(Debug, Clone, PartialEq)]
pub struct IdMapped {
    pub uids: Vec<LinuxIdMapping>,
    pub gids: Vec<LinuxIdMapping>,
    pub recursive: bool,
}

/// What mount `m` (options `opts`, already parsed) is to be mapped with, None when it is not
/// idmapped, or why it cannot be.
pub fn of(m: &Mount, opts: &MountOptions, linux: &Linux) -> Result<Option<IdMapped>, IdmapError> {
    if !asked(m) {
        return Ok(None);
    }
    let invalid = |why| IdmapError::Invalid {
        destination: m.destination().clone(),
        why,
    };
    if !opts.is_bind() && m.typ().as_deref() != Some("bind") {
        return Err(invalid("idmapped mounts are made of bind mounts only"));
    }
    let (uids, gids) = match (m.uid_mappings(), m.gid_mappings()) {
        (Some(u), Some(g)) => (u.clone(), g.clone()),
        (None, None) => {
            let own = |m: Option<&Vec<LinuxIdMapping>>| m.filter(|m| !m.is_empty()).cloned();
            match (
                own(linux.uid_mappings().as_ref()),
                own(linux.gid_mappings().as_ref()),
            ) {
                (Some(u), Some(g)) => (u, g),
                _ => {
                    return Err(invalid(
                        "idmap without uidMappings and gidMappings takes the container's user \
                         namespace mappings, and it has none",
                    ))
                }
            }
        }
        _ => {
            return Err(invalid(
                "uidMappings and gidMappings must be given together",
            ))
        }
    };
    if uids.is_empty() || gids.is_empty() {
        return Err(invalid("uidMappings and gidMappings must not be empty"));
    }
    let recursive = m.options().iter().flatten().any(|o| o == "ridmap");
    Ok(Some(IdMapped {
        uids,
        gids,
        recursive,
    }))
}

/// A detached copy of `m`'s source with `idm` applied, made by the runtime (see module doc).
pub fn detached(m: &Mount, opts: &MountOptions, idm: &IdMapped) -> Result<OwnedFd, IdmapError> {
    let source = m.source().clone().unwrap_or_default();
    let step = |step, hint| {
        let destination = m.destination().clone();
        let source_path = source.clone();
        move |errno| IdmapError::Step {
            destination,
            source_path,
            step,
            errno,
            hint,
        }
    };
    let fd = open(&source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(step("open the source", ""))?;
    let tree =
        mount_api::clone_tree(&fd, opts.is_recursive_bind()).map_err(step("open_tree", ""))?;
    let userns = userns_with(&idm.uids, &idm.gids).map_err(step("make its user namespace", ""))?;
    let attr = mount_api::MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..mount_api::MountAttr::default()
    };
    mount_api::mount_setattr(&tree, idm.recursive, &attr).map_err(|e| {
        let hint = match e {
            Errno::EINVAL => " (the source's filesystem does not support idmapped mounts)",
            Errno::EPERM => " (idmapped mounts need the host's CAP_SYS_ADMIN)",
            _ => "",
        };
        step("mount_setattr(MOUNT_ATTR_IDMAP)", hint)(e)
    })?;
    Ok(tree)
}

/// A user namespace with these maps, held by an fd: a child is cloned into a new one, its maps
/// written, its namespace opened, and the child killed.
fn userns_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd, Errno> {
    let flags = nix::sched::CloneFlags::CLONE_NEWUSER.bits() as u64;
    // SAFETY: called by the single-threaded runtime; the child only pauses until killed.
    let pid = match unsafe { crate::sys::fork_with(flags, None) }? {
        Forked::Child => loop {
            // Killed by the parent once its namespace is held.
            nix::unistd::pause();
        },
        Forked::Parent(pid) => pid,
    };
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let held = (|| {
        let text = crate::process::launch::id_map_text;
        std::fs::write(format!("/proc/{pid}/uid_map"), text(uids)).map_err(io)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), text(gids)).map_err(io)?;
        open(
            format!("/proc/{pid}/ns/user").as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })();
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    held
}
