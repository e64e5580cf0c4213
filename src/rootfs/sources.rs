//! Bind sources the container's root may not reach, copied by the runtime for it.
//!
//! In a user namespace the init looks bind sources up as the namespace's root, which the host
//! may refuse (a source under a directory only the host's root can search). runc opens such
//! sources from the host's side and hands them to its init; nook does the same: before the
//! fork, the runtime (still the host's root, in the host's mount namespace) makes a detached
//! copy of each bind source (open_tree OPEN_TREE_CLONE), and the init, which inherits the fds,
//! attaches a copy only where its own lookup of the source was refused. A copy made in the
//! host's namespace is all that works: a plain fd would name a mount of the host's namespace,
//! which the kernel refuses to bind into another. Without a user namespace nothing is copied.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::Linux;

use crate::spec::Bundle;

use super::idmap::{self, IdmapError};
use super::mounts::{classify, Kind};
use super::options;
use crate::sys::mount as mount_api;

/// One detached copy per spec mount that is a bind mount (None where none could be made:
/// the init then reports the source its own way), and the idmapped copies of idmapped mounts
/// (see `idmap`), which the init always attaches.
#[derive(Default)]
pub struct BindSources(Vec<Option<Copy>>);

struct Copy {
    fd: OwnedFd,
    idmapped: bool,
}

impl BindSources {
    /// Nothing copied: for a container without a user namespace or idmapped mounts.
    pub fn none() -> Self {
        BindSources(Vec::new())
    }

    /// What the runtime makes for `spec` before the fork: the idmapped copies (an error
    /// naming the mount when one cannot be made) and, in a user namespace, a copy of every
    /// other bind source as the runtime sees it.
    pub fn prepare(bundle: &Bundle, in_user_namespace: bool) -> Result<Self, IdmapError> {
        let mounts = bundle.mounts();
        if !in_user_namespace && !mounts.iter().any(idmap::asked) {
            return Ok(Self::none());
        }
        let mut copies = Vec::with_capacity(mounts.len());
        for m in mounts {
            let copy = if idmap::asked(m) {
                Some(Copy {
                    fd: idmapped_copy(bundle.linux(), m)?,
                    idmapped: true,
                })
            } else if in_user_namespace {
                copy_source(m).map(|fd| Copy {
                    fd,
                    idmapped: false,
                })
            } else {
                None
            };
            copies.push(copy);
        }
        Ok(BindSources(copies))
    }

    /// The copy for `spec.mounts[index]`, if there is one.
    pub fn get(&self, index: usize) -> Option<&OwnedFd> {
        self.0.get(index).and_then(Option::as_ref).map(|c| &c.fd)
    }

    /// The idmapped copy for `spec.mounts[index]`, when that mount is idmapped.
    pub fn idmapped(&self, index: usize) -> Option<&OwnedFd> {
        let copy = self.0.get(index).and_then(Option::as_ref)?;
        copy.idmapped.then_some(&copy.fd)
    }

    /// The fds, which the init must keep open until its mounts are made.
    pub fn raw_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.0.iter().flatten().map(|c| c.fd.as_raw_fd())
    }
}

fn idmapped_copy(linux: &Linux, m: &oci_spec::runtime::Mount) -> Result<OwnedFd, IdmapError> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default()).unwrap_or_default();
    match idmap::of(m, &opts, linux)? {
        Some(idm) => idmap::detached(m, &opts, &idm),
        None => unreachable!("asked() said this mount is idmapped"),
    }
}

fn copy_source(m: &oci_spec::runtime::Mount) -> Option<OwnedFd> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default()).ok()?;
    if classify(m.typ().as_deref(), &opts) != Kind::Bind {
        return None;
    }
    let source = m.source().as_deref()?;
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let fd = open(source, flags, Mode::empty()).ok()?;
    mount_api::clone_tree(&fd, opts.is_recursive_bind()).ok()
}
