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
use oci_spec::runtime::Spec;

use super::mounts::{classify, Kind};
use super::options;
use crate::sys::mount as mount_api;

/// One detached copy per spec mount that is a bind mount (None where none could be made:
/// the init then reports the source its own way).
#[derive(Default)]
pub struct BindSources(Vec<Option<OwnedFd>>);

impl BindSources {
    /// Nothing copied: for a container without a user namespace.
    pub fn none() -> Self {
        BindSources(Vec::new())
    }

    /// Copy every bind source of `spec` as the runtime sees it.
    pub fn copy(spec: &Spec) -> Self {
        let mounts = spec.mounts().as_deref().unwrap_or_default();
        BindSources(mounts.iter().map(copy_source).collect())
    }

    /// The copy for `spec.mounts[index]`, if there is one.
    pub fn get(&self, index: usize) -> Option<&OwnedFd> {
        self.0.get(index).and_then(Option::as_ref)
    }

    /// The fds, which the init must keep open until its mounts are made.
    pub fn raw_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.0.iter().flatten().map(|fd| fd.as_raw_fd())
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
