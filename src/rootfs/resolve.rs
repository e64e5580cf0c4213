//! Paths inside the container's rootfs, resolved by the kernel as if the rootfs were "/"
//! (openat2 RESOLVE_IN_ROOT), so a symlink planted in the image can never lead a mount, a
//! mkdir or a mknod out to the host (CVE-2021-30465, CVE-2019-19921).

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, FileStat, Mode, SFlag};

/// Lexically clean a spec path and make it relative to the rootfs. Relative destinations are
/// taken as relative to "/" (runc does the same); ".." never climbs above the root.
/// The empty path means the root itself.
pub fn clean_relative(path: &Path) -> PathBuf {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out.iter().collect()
}

/// The absolute, cleaned form of a spec path, as the container will see it ("/" + relative).
pub fn clean_absolute(path: &Path) -> PathBuf {
    Path::new("/").join(clean_relative(path))
}

/// `/proc/self/fd/N`: lets path-based syscalls (mount(2)) act on exactly what `fd` resolved to.
pub fn fd_path<Fd: AsFd>(fd: Fd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// An O_PATH handle on a directory that acts as "/" for every lookup made through it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

const SCOPED: ResolveFlag = ResolveFlag::RESOLVE_IN_ROOT.union(ResolveFlag::RESOLVE_NO_MAGICLINKS);

impl Root {
    pub fn open(path: &Path) -> nix::Result<Root> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_MAGICLINKS);
        Ok(Root {
            fd: openat2(nix::fcntl::AT_FDCWD, path, how)?,
        })
    }

    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// O_PATH handle on `rel` (cleaned, relative), following symlinks only inside the root.
    pub fn resolve(&self, rel: &Path) -> nix::Result<OwnedFd> {
        self.open_with(rel, OFlag::empty())
    }

    /// Like [`Root::resolve`] but the last component must not be a symlink (ELOOP if it is);
    /// O_PATH|O_NOFOLLOW would hand back the symlink itself, which is never what we want.
    pub fn resolve_no_final_link(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let fd = self.open_with(rel, OFlag::O_NOFOLLOW)?;
        if file_type(&nix::sys::stat::fstat(&fd)?) == SFlag::S_IFLNK {
            return Err(Errno::ELOOP);
        }
        Ok(fd)
    }

    fn open_with(&self, rel: &Path, extra: OFlag) -> nix::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | extra)
            .resolve(SCOPED);
        openat2(self.fd.as_fd(), dot_if_empty(rel), how)
    }

    /// Resolve `rel` as a directory, creating missing components one at a time, each with
    /// mkdirat relative to its already-resolved parent — never by host path.
    pub fn mkdir_all(&self, rel: &Path, mode: Mode) -> nix::Result<OwnedFd> {
        self.mkdir_all_depth(rel, mode, 0)
    }

    /// A dangling symlink on the way is followed the way the kernel would inside the root:
    /// its target is created *inside the rootfs* (an absolute target counts from the rootfs),
    /// which is what runc's securejoin does. Links are followed at most 40 deep.
    fn mkdir_all_depth(&self, rel: &Path, mode: Mode, depth: u32) -> nix::Result<OwnedFd> {
        if depth > 40 {
            return Err(Errno::ELOOP);
        }
        let dir_how = || {
            OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(SCOPED)
        };
        // Most destinations exist already: one scoped lookup of the whole path does it. When
        // it does not, the parent is made the same way (so an existing prefix costs one lookup,
        // not one per component) and the last component is created in it.
        if rel.as_os_str().is_empty() {
            return openat2(self.fd.as_fd(), ".", dir_how());
        }
        match openat2(self.fd.as_fd(), rel, dir_how()) {
            Err(Errno::ENOENT) => {}
            done => return done,
        }
        // Callers pass clean relative paths: every non-empty one has a parent and a last name.
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(Errno::EINVAL);
        };
        let cur = self.mkdir_all_depth(parent, mode, depth)?;
        match mkdirat(&cur, name, mode) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // A dangling symlink: create its target, inside the root.
                if let Ok(target) = nix::fcntl::readlinkat(&cur, name) {
                    let target = Path::new(&target);
                    let inside = if target.is_absolute() {
                        clean_relative(target)
                    } else {
                        clean_relative(&Path::new("/").join(parent).join(target))
                    };
                    self.mkdir_all_depth(&inside, mode, depth + 1)?;
                }
            }
            Err(e) => return Err(e),
        }
        // Re-resolve rather than trust the name: if it was a dangling symlink whose target could
        // not be made, this lookup fails too.
        openat2(self.fd.as_fd(), rel, dir_how())
    }

    /// Resolve `rel`, creating it as an empty regular file (and its parents as directories)
    /// when missing. An existing entry of any type is returned as is.
    pub fn create_file(&self, rel: &Path, mode: Mode) -> nix::Result<OwnedFd> {
        match self.resolve(rel) {
            Err(Errno::ENOENT) => {}
            other => return other,
        }
        let (parent, name) = split_last(rel).ok_or(Errno::EEXIST)?;
        let dir = self.mkdir_all(parent, Mode::from_bits_truncate(0o755))?;
        // O_EXCL|O_NOFOLLOW: never open through a symlink that appeared meanwhile.
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match nix::fcntl::openat(&dir, name, flags | OFlag::O_WRONLY, mode) {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        self.resolve(rel)
    }
}

/// Split a cleaned relative path into (parent, last component); None for the root.
pub fn split_last(rel: &Path) -> Option<(&Path, &OsStr)> {
    let name = rel.file_name()?;
    Some((rel.parent().unwrap_or(Path::new("")), name))
}

fn dot_if_empty(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// The S_IFMT part of a stat's mode.
pub fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// The in-root path a resolved fd points to, read back from /proc/self/fd, for checks on
/// where a destination really landed (e.g. "inside /proc?"). `root` is the host path of the
/// root the fd was resolved in.
pub fn in_root_path<Fd: AsFd>(fd: Fd, root: &Path) -> nix::Result<PathBuf> {
    let target = nix::fcntl::readlink(&fd_path(fd))?;
    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
    let rel = target.strip_prefix(root).map_err(|_| Errno::EXDEV)?;
    Ok(Path::new("/").join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_relative_strips_root_dots_and_dotdots() {
        assert_eq!(clean_relative(Path::new("/proc")), PathBuf::from("proc"));
        assert_eq!(
            clean_relative(Path::new("dev/pts")),
            PathBuf::from("dev/pts")
        );
        assert_eq!(
            clean_relative(Path::new("/a/./b//c/")),
            PathBuf::from("a/b/c")
        );
        assert_eq!(
            clean_relative(Path::new("/../../etc/x")),
            PathBuf::from("etc/x")
        );
        assert_eq!(
            clean_relative(Path::new("/a/b/../../../c")),
            PathBuf::from("c")
        );
        assert_eq!(clean_relative(Path::new("/")), PathBuf::new());
        assert_eq!(
            clean_absolute(Path::new("dev/../dev/shm")),
            PathBuf::from("/dev/shm")
        );
        assert_eq!(clean_absolute(Path::new("..")), PathBuf::from("/"));
    }

    #[test]
    fn split_last_of_clean_paths() {
        assert_eq!(
            split_last(Path::new("dev/null")),
            Some((Path::new("dev"), OsStr::new("null")))
        );
        assert_eq!(
            split_last(Path::new("etc")),
            Some((Path::new(""), OsStr::new("etc")))
        );
        assert_eq!(split_last(Path::new("")), None);
    }

    // Unprivileged: openat2 and mkdirat need no root. A planted absolute symlink must resolve
    // inside the root, and mkdir_all must create through it inside the root too.
    #[test]
    fn symlinks_stay_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        let rootfs = host.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("real")).unwrap();
        let outside = host.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, rootfs.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../..", rootfs.join("up")).unwrap();
        std::os::unix::fs::symlink("/nonexistent-target", rootfs.join("dangling")).unwrap();

        let root = Root::open(&rootfs).unwrap();
        // "escape" points at a host path; inside the root that path does not exist, so it is
        // a dangling link there: its target is created inside the root, never on the host.
        let in_root = rootfs.join(outside.strip_prefix("/").unwrap());
        root.mkdir_all(Path::new("escape/sub"), Mode::from_bits_truncate(0o755))
            .unwrap();
        assert!(!outside.join("sub").exists(), "created on the host");
        assert!(in_root.join("sub").is_dir());

        let fd = root
            .mkdir_all(Path::new("up/made"), Mode::from_bits_truncate(0o755))
            .unwrap();
        assert_eq!(in_root_path(&fd, &rootfs).unwrap(), PathBuf::from("/made"));

        let f = root
            .create_file(Path::new("up/file"), Mode::from_bits_truncate(0o644))
            .unwrap();
        assert_eq!(in_root_path(&f, &rootfs).unwrap(), PathBuf::from("/file"));
        assert!(rootfs.join("file").is_file());

        assert!(root.resolve_no_final_link(Path::new("up")).is_err());
        assert!(root.resolve_no_final_link(Path::new("real")).is_ok());
        // The dangling link's target ("/nonexistent-target" in the root) does not exist.
        assert_eq!(
            root.resolve(Path::new("dangling")).unwrap_err(),
            Errno::ENOENT
        );
        assert!(!Path::new("/nonexistent-target").exists());
    }
}
