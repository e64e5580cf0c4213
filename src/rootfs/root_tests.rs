//! Root-only checks of the real sequence, each in a forked child with its own mount namespace
//! (made rprivate first) so nothing reaches the host. Run with:
//! `cargo test --lib rootfs::root_tests -- --ignored --test-threads=1`

use std::path::{Path, PathBuf};

use crate::spec::Bundle;
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::{enter, finalize, prepare, BindSources};

fn in_child(f: impl FnOnce() -> Result<(), String>) {
    // SAFETY: the child only runs `f` and exits; the test harness runs these one at a time.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let r = unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    nix::mount::mount(
                        None::<&str>,
                        "/",
                        None::<&str>,
                        nix::mount::MsFlags::MS_PRIVATE | nix::mount::MsFlags::MS_REC,
                        None::<&str>,
                    )
                    .map_err(|e| e.to_string())
                })
                .and_then(|_| f());
            if let Err(e) = r {
                eprintln!("child failed: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
        ForkResult::Parent { child } => {
            assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
        }
    }
}

fn busybox_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::fs::write(rootfs.join("etc/hostname"), "ctr\n").unwrap();
    rootfs.canonicalize().unwrap()
}

fn bundle(rootfs: &Path, json: &str) -> Bundle {
    Bundle::unvalidated(rootfs, serde_json::from_str(json).unwrap())
}

const BASE: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
 "mounts":[
  {"destination":"/proc","type":"proc","source":"proc"},
  {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k","ro"]},
  {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
  {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
  {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
  {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
  {"destination":"/evil/x","type":"tmpfs","source":"tmpfs"},
  {"destination":"/data","type":"bind","source":"HOSTDIR","options":["rbind","ro","rnosuid"]}
 ],
 "linux":{"namespaces":[{"type":"mount"}],
  "maskedPaths":["/proc/kcore","/proc/version","/proc/acpi","/proc/nonexistent"],
  "readonlyPaths":["/proc/sys","/proc/sysrq-trigger"]}}"#;

#[test]
#[ignore = "needs root"]
fn full_sequence_in_a_mount_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    // A relative-to-"/" symlink: must land in the rootfs's /etc, not the host's.
    std::os::unix::fs::symlink("/etc", rootfs.join("evil")).unwrap();
    let hostdir = tmp.path().join("hostdir");
    std::fs::create_dir(&hostdir).unwrap();
    std::fs::write(hostdir.join("f"), "data").unwrap();
    let s = bundle(&rootfs, &BASE.replace("HOSTDIR", hostdir.to_str().unwrap()));
    in_child(|| {
        prepare(&s, None, &BindSources::none()).map_err(|e| format!("prepare: {e}"))?;
        enter(&rootfs, false).map_err(|e| format!("enter: {e}"))?;
        finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{what}\n{mi}"))
            }
        };
        let line = |mp: &str| {
            mi.lines()
                .find(|l| l.split(' ').nth(4) == Some(mp))
                .map(str::to_owned)
        };
        let opts = |mp: &str| line(mp).map(|l| l.split(' ').nth(5).unwrap_or("").to_owned());
        check(
            opts("/").is_some_and(|o| o.starts_with("ro")),
            "/ not read-only",
        )?;
        check(
            opts("/dev").is_some_and(|o| o.starts_with("ro")),
            "/dev not read-only",
        )?;
        check(
            opts("/data").is_some_and(|o| o.starts_with("ro") && o.contains("nosuid")),
            "/data",
        )?;
        check(
            opts("/proc/sys").is_some_and(|o| o.starts_with("ro")),
            "/proc/sys",
        )?;
        check(
            opts("/sys/fs/cgroup").is_some_and(|o| o.starts_with("ro")),
            "cgroup tmpfs",
        )?;
        check(
            line("/sys/fs/cgroup/memory").is_some(),
            "no memory hierarchy",
        )?;
        check(line("/etc/x").is_some(), "/evil/x did not land on /etc/x")?;
        check(
            std::fs::read("/proc/version").is_ok_and(|b| b.is_empty()),
            "/proc/version not masked",
        )?;
        check(
            std::fs::read_dir("/proc/acpi").map_or(true, |d| d.count() == 0),
            "acpi",
        )?;
        check(
            std::fs::read("/data/f").is_ok_and(|b| b == b"data"),
            "/data/f",
        )?;
        let null = nix::sys::stat::stat("/dev/null").map_err(|e| e.to_string())?;
        check(null.st_rdev == super::devices::makedev(1, 3), "/dev/null")?;
        let ptmx = std::fs::read_link("/dev/ptmx").map_err(|e| e.to_string())?;
        check(ptmx == Path::new("pts/ptmx"), "/dev/ptmx")?;
        check(std::fs::read_link("/dev/fd").is_ok(), "/dev/fd")?;
        check(
            std::env::current_dir().is_ok_and(|d| d == Path::new("/")),
            "cwd",
        )?;
        check(
            std::fs::write("/etc/hostname", "x").is_err(),
            "root writable",
        )?;
        Ok(())
    });
    assert!(
        !Path::new("/etc/x").exists(),
        "mount destination escaped to the host"
    );
    // Nothing of the child's mount namespace is visible here.
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(rootfs.to_str().unwrap()),
        "mount leaked to the host"
    );
}

fn expect_prepare_error(s: &Bundle, needle: &'static str) {
    in_child(|| match prepare(s, None, &BindSources::none()) {
        Ok(()) => Err("prepare succeeded".into()),
        Err(e) if e.to_string().contains(needle) => Ok(()),
        Err(e) => Err(format!("wrong error: {e}")),
    });
}

#[test]
#[ignore = "needs root"]
fn symlink_to_host_path_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, rootfs.join("evil")).unwrap();
    let s = bundle(
        &rootfs,
        r#"{"ociVersion":"1.0.2","mounts":[
        {"destination":"/evil/x","type":"tmpfs","source":"tmpfs"}]}"#,
    );
    // The link is followed as the kernel would inside the root (runc's securejoin does the
    // same): its absolute target is created under the rootfs, and the tmpfs lands there.
    let inside = rootfs.join(outside.strip_prefix("/").unwrap()).join("x");
    in_child(|| {
        prepare(&s, None, &BindSources::none()).map_err(|e| format!("prepare: {e}"))?;
        let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        if !mi.contains(&format!(" {} ", inside.display())) {
            return Err(format!("no tmpfs at {}\n{mi}", inside.display()));
        }
        Ok(())
    });
    assert!(!outside.join("x").exists(), "created on the host");
}

#[test]
#[ignore = "needs root"]
fn proc_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    std::fs::create_dir(rootfs.join("notproc")).unwrap();
    std::os::unix::fs::symlink("/notproc", rootfs.join("proc")).unwrap();
    let s = bundle(
        &rootfs,
        r#"{"ociVersion":"1.0.2","mounts":[
        {"destination":"/proc","type":"proc","source":"proc"}]}"#,
    );
    expect_prepare_error(&s, "must be mounted on a real directory");
}

#[test]
#[ignore = "needs root"]
fn unknown_option_reaches_the_kernel_and_names_the_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    let s = bundle(
        &rootfs,
        r#"{"ociVersion":"1.0.2","mounts":[
        {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["nosuidd"]}]}"#,
    );
    expect_prepare_error(&s, "mount \"tmpfs\" on /run (data \"nosuidd\")");
}

#[test]
#[ignore = "needs root"]
fn fake_dev_null_is_not_used_for_masking() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    // /dev comes from a bind (so nook does not populate it) and its null is a symlink.
    let fakedev = tmp.path().join("fakedev");
    std::fs::create_dir(&fakedev).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", fakedev.join("null")).unwrap();
    let s = bundle(
        &rootfs,
        &format!(
            r#"{{"ociVersion":"1.0.2","mounts":[
        {{"destination":"/dev","type":"bind","source":"{}","options":["rbind"]}}],
        "linux":{{"maskedPaths":["/etc/hostname"]}}}}"#,
            fakedev.display()
        ),
    );
    in_child(|| {
        prepare(&s, None, &BindSources::none()).map_err(|e| format!("prepare: {e}"))?;
        enter(&rootfs, false).map_err(|e| format!("enter: {e}"))?;
        match finalize(&s) {
            Err(e) if e.to_string().contains("not the null device") => Ok(()),
            other => Err(format!("expected a refusal, got {other:?}")),
        }
    });
}

#[test]
#[ignore = "needs root"]
fn no_pivot_chroots_into_the_rootfs() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = busybox_rootfs(tmp.path());
    let s = bundle(
        &rootfs,
        r#"{"ociVersion":"1.0.2","mounts":[
        {"destination":"/proc","type":"proc","source":"proc"}]}"#,
    );
    in_child(|| {
        prepare(&s, None, &BindSources::none()).map_err(|e| format!("prepare: {e}"))?;
        enter(&rootfs, true).map_err(|e| format!("enter: {e}"))?;
        finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        if !Path::new("/bin/busybox").exists() || !Path::new("/etc/hostname").exists() {
            return Err("not inside the rootfs".into());
        }
        Ok(())
    });
}
