//! Root-only checks on the real host, ignored by default. Run with
//! `cargo test --lib cgroups::host_tests -- --ignored --test-threads=1`.
//! Each leaves nothing behind under any hierarchy.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
};

use super::*;

fn get(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

/// The real thing on whatever layout this host has.
#[test]
#[ignore = "needs root and a writable /sys/fs/cgroup"]
fn host_lifecycle() {
    use std::process::Command;
    // A parent of its own: the host tests run in parallel, and each removes its parent.
    let parent = format!("nook-test-t{}", std::process::id());
    let path = PathBuf::from(format!("/{parent}/t"));
    let cg = Cgroup::resolve(Some(&path), "unused").unwrap();
    assert_eq!(cg.path(), path);
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let layout = detect::parse_mountinfo(&mountinfo).unwrap();
    let rel = path.strip_prefix("/").unwrap();
    let (memory_dir, pids_dir, mounts): (PathBuf, PathBuf, Vec<PathBuf>) = match &layout {
        Layout::V2 { mount } => (mount.join(rel), mount.join(rel), vec![mount.clone()]),
        Layout::V1 {
            hierarchies,
            unified,
        } => {
            let of = |c: &str| {
                hierarchies
                    .iter()
                    .find(|h| h.has(c))
                    .unwrap()
                    .mount
                    .join(rel)
            };
            let mut mounts: Vec<PathBuf> = hierarchies.iter().map(|h| h.mount.clone()).collect();
            mounts.extend(unified.clone());
            (of("memory"), of("pids"), mounts)
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cg.create().unwrap();
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        cg.add_process(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        let membership = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for line in membership.lines() {
            assert!(line.ends_with(path.to_str().unwrap()), "not moved: {line}");
        }
        let mem = LinuxMemoryBuilder::default()
            .limit(64i64 << 20)
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .memory(mem)
            .pids(LinuxPidsBuilder::default().limit(16i64).build().unwrap())
            .build()
            .unwrap();
        cg.apply(&r).unwrap();
        let limit_file = match layout {
            Layout::V2 { .. } => "memory.max",
            Layout::V1 { .. } => "memory.limit_in_bytes",
        };
        assert_eq!(get(&memory_dir, limit_file).trim(), "67108864");
        assert_eq!(get(&pids_dir, "pids.max").trim(), "16");
        cg.freeze().unwrap();
        assert!(cg.is_frozen().unwrap());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen().unwrap());
        cg.signal_all(Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "killed by a signal: {status:?}");
        // A second, unreaped child: destroy must kill it and still remove the cgroup.
        let child2 = Command::new("sleep").arg("100").spawn().unwrap();
        cg.add_process(Pid::from_raw(child2.id() as i32)).unwrap();
        cg.destroy().unwrap();
        child2
    }));
    let _ = cg.destroy();
    for m in &mounts {
        let _ = fs::remove_dir(m.join(&parent));
    }
    let mut child2 = result.unwrap();
    child2.wait().unwrap();
    for m in &mounts {
        assert!(!m.join(&parent).exists(), "{} left behind", m.display());
    }
}

/// The default `/nook/<id>` on the real host, with cpu and cpuset limits; `<id>` must go away
/// everywhere (the shared `/nook` stays, see `Backend::remove`).
#[test]
#[ignore = "needs root and a writable /sys/fs/cgroup"]
fn host_default_path_cpu_and_cpuset() {
    let id = format!("nook-test-{}", std::process::id());
    let cg = Cgroup::resolve(None, &id).unwrap();
    assert_eq!(cg.path(), Path::new("/nook").join(&id));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cg.create().unwrap();
        // Below the kernel's 1 ms minimum: the error names the file and keeps the errno.
        let tiny = LinuxCpuBuilder::default().quota(500i64).build().unwrap();
        let err = cg
            .apply(&LinuxResourcesBuilder::default().cpu(tiny).build().unwrap())
            .unwrap_err();
        assert!(
            matches!(&err, CgroupError::Write { path, source, .. }
                if (path.ends_with("cpu.cfs_quota_us") || path.ends_with("cpu.max"))
                    && source.raw_os_error() == Some(Errno::EINVAL as i32)),
            "{err:?}"
        );
        let cpu = LinuxCpuBuilder::default()
            .shares(512u64)
            .quota(20_000i64)
            .period(100_000u64)
            .cpus("0")
            .mems("0")
            .build()
            .unwrap();
        cg.apply(&LinuxResourcesBuilder::default().cpu(cpu).build().unwrap())
            .unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        cg.add_process(Pid::from_raw(child.id() as i32)).unwrap();
        cg.signal_all(Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }));
    cg.destroy().unwrap();
    result.unwrap();
    let leftovers: Vec<_> = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("nook").join(&id))
        .chain([PathBuf::from("/sys/fs/cgroup/nook").join(&id)])
        .filter(|p| p.exists())
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// The v2 backend on a real cgroup2 mount. On a hybrid host that mount has no controllers,
/// so this covers what v2 does without them: mkdir, cgroup.procs, the clone fd, the
/// freezer (cgroup.freeze/cgroup.events), cgroup.kill, rmdir. Skips when there is no
/// cgroup2 mount.
#[test]
#[ignore = "needs root and a cgroup2 mount"]
fn host_v2_core_files() {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = match detect::parse_mountinfo(&mountinfo) {
        Some(Layout::V2 { mount }) => mount,
        Some(Layout::V1 {
            unified: Some(m), ..
        }) => m,
        _ => return,
    };
    let parent = format!("nook-test-v2-{}", std::process::id());
    let path = PathBuf::from(format!("/{parent}/c"));
    let cg = Cgroup::with_root(&mount, Version::V2, Some(&path), "unused").unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cg.create().unwrap();
        assert!(cg.clone_into_fd().unwrap().is_some());
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        cg.add_process(pid).unwrap();
        assert_eq!(cg.pids().unwrap(), vec![pid]);
        cg.freeze().unwrap();
        assert!(cg.is_frozen().unwrap());
        cg.thaw().unwrap();
        assert!(!cg.is_frozen().unwrap());
        // A paused container stays paused for a non-fatal signal.
        cg.freeze().unwrap();
        cg.signal_all(Signal::SIGCONT).unwrap();
        assert!(cg.is_frozen().unwrap());
        cg.signal_all(Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }));
    cg.destroy().unwrap();
    let _ = fs::remove_dir(mount.join(&parent));
    result.unwrap();
    assert!(!mount.join(&parent).exists());
}

/// A device program on a real cgroup2 directory (the hybrid host's `unified` mount or a pure
/// v2 host's root): a child that moves itself in can open /dev/null and not /dev/zero; after
/// an update the opposite holds, with exactly one program attached.
#[test]
#[ignore = "needs root and a cgroup2 mount"]
fn host_device_program() {
    use std::os::fd::AsFd;

    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, write, ForkResult};
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};

    let mount = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(PathBuf::from)
        .find(|m| m.join("cgroup.procs").exists() && m.join("cgroup.subtree_control").exists())
        .expect("a cgroup2 mount");
    let dir = mount.join(format!("nook-devtest-{}", std::process::id()));
    fs::create_dir(&dir).unwrap();
    let rules = |allowed_minor: i64| {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let one = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(allowed_minor)
            .access("rwm")
            .build()
            .unwrap();
        vec![deny_all, one]
    };
    // The child moves itself in (writing "0" to cgroup.procs moves the writer) and reports
    // through its exit code: per device two bits, 1 opened, 2 refused with EPERM; /dev/null
    // in the low two bits, /dev/zero in the next two.
    let probe = || -> i32 {
        let procs = dir.join("cgroup.procs");
        // SAFETY: run with --test-threads=1 (see the module doc); the child only makes
        // syscalls through nix and leaves with _exit.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = (|| {
                    let f = open(&procs, OFlag::O_WRONLY, Mode::empty()).map_err(|_| 100)?;
                    write(f.as_fd(), b"0").map_err(|_| 101)?;
                    let bits = |path: &str| match open(path, OFlag::O_RDWR, Mode::empty()) {
                        Ok(_) => 1,
                        Err(Errno::EPERM) => 2,
                        Err(_) => 0,
                    };
                    Ok::<i32, i32>(bits("/dev/null") | (bits("/dev/zero") << 2))
                })()
                .unwrap_or_else(|e| e);
                // SAFETY: _exit never returns and runs no destructors in the forked copy.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => match waitpid(child, None).unwrap() {
                WaitStatus::Exited(_, code) => code,
                other => panic!("probe: {other:?}"),
            },
        }
    };
    let count_programs = || {
        let fd = open(&dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        super::bpf::query_device_programs(fd.as_fd()).unwrap().len()
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::v2_devices::apply_devices(&dir, &rules(3)).unwrap();
        assert_eq!(count_programs(), 1);
        assert_eq!(probe(), 0b10_01, "/dev/null open and /dev/zero refused");
        super::v2_devices::apply_devices(&dir, &rules(5)).unwrap();
        assert_eq!(count_programs(), 1, "the old program is detached");
        assert_eq!(probe(), 0b01_10, "/dev/null refused and /dev/zero open");
    }));
    fs::remove_dir(&dir).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A program the verifier refuses comes back with its log, for the error message.
#[test]
#[ignore = "needs root (CAP_BPF)"]
fn host_verifier_log() {
    use super::bpf::{load_device_program, op, Insn};
    // Returns r0 without ever setting it.
    let err = load_device_program(&[Insn::new(op::EXIT, 0, 0, 0, 0)]).unwrap_err();
    assert_eq!(err.errno, Errno::EACCES);
    assert!(err.log.contains("R0"), "{}", err.log);
}

/// A forked child moves itself in (clone3 into cgroup2, "0" into every v1 `tasks`), and shows
/// up in the cgroup of every hierarchy without the parent writing its pid anywhere.
#[test]
#[ignore = "needs root and a writable /sys/fs/cgroup"]
fn host_child_joins_itself() {
    use crate::sys::{fork_with, Forked};
    use std::os::fd::AsFd;
    let path = PathBuf::from(format!("/nook-test-j{}", std::process::id()));
    let cg = Cgroup::resolve(Some(&path), "unused").unwrap();
    cg.create().unwrap();
    let into = cg.clone_into_fd().unwrap();
    let tasks = cg.self_join_files().unwrap();
    // SAFETY: the test harness has other threads, so the child makes only async-signal-safe
    // calls (write, nanosleep, _exit) and takes no lock another thread could hold.
    let forked = unsafe { fork_with(0, into.as_ref().map(|f| f.as_fd())) }.unwrap();
    let pid = match forked {
        Forked::Child => {
            // Only async-signal-safe calls here: write, nanosleep, _exit.
            let code = if join_self(&tasks).is_ok() { 0 } else { 1 };
            std::thread::sleep(Duration::from_secs(if code == 0 { 30 } else { 0 }));
            // SAFETY: _exit in a forked child of a test process, skipping atexit handlers.
            unsafe { libc::_exit(code) }
        }
        Forked::Parent(pid) => pid,
    };
    let want = path.to_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let joined = loop {
        let membership = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if !membership.is_empty() && membership.lines().all(|l| l.ends_with(want)) {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = kill(pid, Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    cg.destroy().unwrap();
    assert!(joined, "the child did not reach {want} in every hierarchy");
}
