//! Regression tests for escape classes from /work/shared/SECURITY.md: a malicious rootfs must not
//! reach the host. (Container id traversal is in bad_input.rs, inherited capabilities in process.rs.)

use crate::support::{assert_nothing_left, container_test, is_nook, Fixture};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

container_test! {
    fn mount_destination_symlink_stays_inside_the_rootfs(f) {
        // The image points /mnt/evil at a host directory; the tmpfs and anything written to it
        // must land inside the rootfs, never on the host path.
        let victim = f.dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        symlink(&victim, f.rootfs().join("mnt/evil")).unwrap();
        f.config["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/mnt/evil", "type": "tmpfs", "source": "tmpfs"}));
        f.run_sh("echo pwned > /mnt/evil/owned");
        assert!(!victim.join("owned").exists(), "the container wrote through the symlink to the host");
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(victim.to_str().unwrap()), "a mount landed on the host path");
    }
}

container_test! {
    fn proc_as_a_symlink_is_refused(f) {
        // CVE-2019-16884 class: /proc in the image is a symlink to a host directory.
        let victim = f.dir.path().join("fakeproc");
        fs::create_dir(&victim).unwrap();
        fs::remove_dir(f.rootfs().join("proc")).unwrap();
        symlink(&victim, f.rootfs().join("proc")).unwrap();
        f.set_args(&["true"]);
        let out = f.run();
        let out = out.failed();
        assert!(out.stderr.contains("proc"), "{out}");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0, "something was written to the host dir");
        assert_nothing_left(&f, &f.id);
    }
}

/// A file only the host can see: its absolute host path does not exist in the rootfs, so
/// reading it from inside succeeds only from a cwd (or mount) that escaped the container.
fn host_marker(f: &Fixture) -> PathBuf {
    let marker = f.dir.path().join("host-only-marker");
    fs::write(&marker, "HOST-ONLY\n").unwrap();
    marker
}

/// A script that climbs from its cwd with `cd -P ..` until `..` is `.` (a root) and says whether
/// that top is the container's `/`; then it reads `marker` by its host path. From a cwd inside
/// the container the climb stops at the container's root; from a leaked host directory it ends
/// at a root that is not ours (the host's, or a detached mount's) and prints ESCAPED, and where
/// the host's root is reachable the marker's HOST-ONLY too.
fn climb_and_read(marker: &Path) -> String {
    format!(
        "id() {{ stat -c %d:%i \"$1\"; }}; i=0; \
         while [ \"$(id .)\" != \"$(id ..)\" ] && [ $i -lt 64 ]; do cd -P .. || break; i=$((i+1)); done; \
         [ \"$(id .)\" = \"$(id /)\" ] && echo top=inside || echo top=ESCAPED; cat {} 2>/dev/null; true",
        marker.display()
    )
}

/// Panics if the output of `climb_and_read` shows the cwd was outside the container.
#[track_caller]
fn assert_stayed_inside(out: &crate::support::Outcome, what: &str) {
    assert!(
        !out.stdout.contains("ESCAPED") && !out.stdout.contains("HOST-ONLY"),
        "{what}: the cwd was outside the container: {out}"
    );
}

/// The fd numbers `ls /proc/self/fd` printed, without the one ls opened for the directory.
fn open_fds(ls_output: &str) -> Vec<u32> {
    let mut fds: Vec<u32> = ls_output
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    fds.sort_unstable();
    // busybox ls opens /proc/self/fd itself as the lowest free fd.
    fds.pop();
    fds
}

container_test! {
    fn cwd_through_a_leaked_fd_never_reaches_the_host(f) {
        // CVE-2024-21626 class: process.cwd = /proc/self/fd/N names whatever fd N the init
        // still holds when it chdirs. This fails if nook ever leaks a host directory fd into the
        // init (or chdirs before closing them) and does not prove the cwd is under the root:
        // then the climb below reaches the host's / and prints the marker.
        let marker = host_marker(&f);
        let script = climb_and_read(&marker);
        for n in 3..=10 {
            f.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
            f.set_sh(&script);
            let id = f.another_id(&n.to_string());
            f.write_config();
            let bundle = f.bundle();
            let out = f.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
            if out.status.success() {
                assert_stayed_inside(&out, &format!("fd {n}"));
                assert!(out.stdout.contains("top="), "fd {n}: the script did not run: {out}");
            } else {
                assert_stayed_inside(&out, &format!("fd {n}"));
                let out = out.failed();
                if is_nook() {
                    assert!(out.stderr.contains("process.cwd"), "fd {n}: {out}");
                }
            }
            f.rt(&["delete", "--force", &id]);
            assert_nothing_left(&f, &id);
        }
        assert_eq!(fs::read_to_string(&marker).unwrap(), "HOST-ONLY\n");
    }
}

container_test! {
    fn exec_cwd_through_a_leaked_fd_never_reaches_the_host(f) {
        // The same attack on `exec --cwd`: the exec'd process joins the container from the
        // runtime, which does hold host fds; nook must close them before the chdir and check the
        // result. Fails if an exec child keeps a runtime fd to a host directory (or skips the
        // check): the climb then prints the marker.
        let marker = host_marker(&f);
        let script = climb_and_read(&marker);
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        for n in 3..=10 {
            let cwd = format!("/proc/self/fd/{n}");
            let out = f.rt(&["exec", "--cwd", &cwd, &f.id, "sh", "-c", &script]);
            assert_stayed_inside(&out, &format!("exec fd {n}"));
            if is_nook() && !out.status.success() {
                assert!(out.stderr.contains("process.cwd"), "fd {n}: {out}");
            }
        }
        assert_eq!(f.state(&f.id)["status"], "running");
        f.rt(&["delete", "--force", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn init_and_exec_hold_only_stdio(f) {
        // Every runtime fd must be gone by execve: fails if the init or an exec'd process
        // inherits any fd past 2 (state dir, channel, cgroup, namespace files...).
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        // Seen from the host: after start the init is the execve'd sleep.
        let mut init_fds: Vec<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
            .collect();
        init_fds.sort_unstable();
        assert_eq!(init_fds, [0, 1, 2], "the init holds more than stdio");
        let out = f.rt(&["exec", &f.id, "ls", "/proc/self/fd"]).ok();
        assert_eq!(open_fds(&out.stdout), [0, 1, 2], "the exec'd process holds more than stdio: {out}");
        f.rt(&["delete", "--force", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}
