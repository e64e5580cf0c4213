//! `tmpcopyup`: a tmpfs mounted over an image directory starts with that directory's contents
//! (podman puts it on every tmpfs it adds). Everything is done relative to directory fds and
//! nothing is followed: a symlink in the image is copied as a symlink, never through.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Open a directory (given as an O_PATH fd) for reading its entries.
pub fn open_dir(path_fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    openat(path_fd, ".", DIR_FLAGS, Mode::empty())
}

/// Copy the contents of `src` into `dst`, both open directories.
pub fn copy_tree(src: &OwnedFd, dst: &OwnedFd) -> Result<(), Errno> {
    copy_dir(src, dst, 0)
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: u32) -> Result<(), Errno> {
    if depth > 64 {
        return Err(Errno::ELOOP);
    }
    let listing = Dir::from_fd(openat(src, ".", DIR_FLAGS, Mode::empty())?)?;
    let mut names = Vec::new();
    for entry in listing.into_iter() {
        let entry = entry?;
        let name = entry.file_name().to_owned();
        if name.as_bytes() != b"." && name.as_bytes() != b".." {
            names.push(name);
        }
    }
    for name in names {
        let name = name.as_c_str();
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
                let from = openat(src, name, DIR_FLAGS, Mode::empty())?;
                let to = openat(dst, name, DIR_FLAGS, Mode::empty())?;
                copy_dir(&from, &to, depth + 1)?;
                fchmod(&to, mode)?;
            }
            SFlag::S_IFREG => {
                let from = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let to = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    mode,
                )?;
                let (mut from, mut to) = (File::from(from), File::from(to));
                io::copy(&mut from, &mut to)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32)))?;
                fchmod(to.as_fd(), mode)?;
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(src, name)?;
                symlinkat(target.as_os_str(), dst, name)?;
            }
            _ => mknodat(dst, name, kind, mode, st.st_rdev)?,
        }
        fchownat(
            dst,
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if kind != SFlag::S_IFLNK && kind != SFlag::S_IFDIR && kind != SFlag::S_IFREG {
            fchmodat(dst, name, mode, FchmodatFlags::NoFollowSymlink).or_else(|e| {
                if e == Errno::EOPNOTSUPP {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_files_dirs_and_links_without_following() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dst = tmp.path().join("dst");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("sub/file"), "data").unwrap();
        std::fs::set_permissions(src.join("sub/file"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let open = |p: &std::path::Path| nix::fcntl::open(p, DIR_FLAGS, Mode::empty()).unwrap();
        copy_tree(&open(&src), &open(&dst)).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("sub/file")).unwrap(),
            "data"
        );
        let mode = std::fs::metadata(dst.join("sub/file"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            std::path::PathBuf::from("/etc/passwd")
        );
    }
}
