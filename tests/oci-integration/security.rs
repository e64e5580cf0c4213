//! Regression tests for escape classes from /work/shared/SECURITY.md: a malicious rootfs must not
//! reach the host. (Container id traversal is in bad_input.rs, inherited capabilities in process.rs.)

use crate::support::{assert_nothing_left, container_test, is_nook};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::fs::PermissionsExt;

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

/// A watcher for the CVE-2019-5736 tests, run as a container's init with CAP_SYS_PTRACE (so
/// that non-dumpable processes do not stop it: only the real defence may). It looks for a
/// process whose /proc/<pid>/exe is not busybox (that is, the runtime's image, reached from
/// inside the container), freezes it, holds its exe open on fd 3, writes `/found`, lets it go,
/// and once `/go` exists (the runtime process is gone, so no ETXTBSY) reopens the held file for
/// writing through /proc/self/fd/3 — the step that overwrote runc on the host. The outcome goes
/// to `/result`. `$1`, when set, is a pattern the process's cmdline must match.
const EXE_WATCHER: &str = r#"
want="$1"
while :; do
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        t=$(readlink "$d/exe" 2>/dev/null) || continue
        case "$t" in ""|/bin/busybox) continue;; esac
        if [ -n "$want" ]; then
            c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)
            case "$c" in $want) ;; *) continue;; esac
        fi
        kill -STOP "$p" 2>/dev/null || continue
        if cat "$d/exe" >/dev/null 2>&1; then
            exec 3<"$d/exe"
            echo "held $p $t" > /found
            kill -CONT "$p"
            break 2
        fi
        kill -CONT "$p"
    done
done
while [ ! -e /go ]; do sleep 0.05; done
if (echo pwned > /proc/self/fd/3) 2>/err; then echo WROTE > /result; else echo "refused: $(cat /err)" > /result; fi
exec sleep 1000
"#;

/// A copy of the runtime under test, so that a failure of the defence destroys the copy and
/// not the binary the other tests run.
fn runtime_copy(f: &mut crate::support::Fixture) -> Vec<u8> {
    let copy = f.dir.path().join("runtime-copy");
    fs::copy(&f.runtime, &copy).unwrap();
    f.runtime = copy.clone();
    fs::read(&copy).unwrap()
}

/// Starts the watcher as the fixture's container `f.id` with CAP_SYS_PTRACE; returns its pid.
fn start_exe_watcher(f: &mut crate::support::Fixture, want: &str) -> i64 {
    for set in ["bounding", "effective", "permitted"] {
        f.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_PTRACE"));
    }
    f.set_args(&["sh", "-c", EXE_WATCHER, "watcher", want]);
    f.create().ok();
    f.rt(&["start", &f.id]).ok();
    f.state(&f.id)["pid"].as_i64().unwrap()
}

/// Copies the shared libraries `binary` needs (per ldd) into `rootfs` at the same paths, so the
/// binary can run inside the container as an attacker would get it to (real images have libc).
fn copy_shared_libraries(binary: &std::path::Path, rootfs: &std::path::Path) {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let lib = std::path::Path::new(word);
        if lib.is_absolute() && lib.exists() {
            let dest = rootfs.join(lib.strip_prefix("/").unwrap());
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(lib, dest).unwrap();
        }
    }
}

fn wait_for_file(path: &std::path::Path, what: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(text) = fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{what}: {} never appeared", path.display());
}

fn assert_exe_write_refused(f: &crate::support::Fixture, original: &[u8]) {
    fs::write(f.rootfs().join("go"), "").unwrap();
    let result = wait_for_file(&f.rootfs().join("result"), "the watcher's write attempt");
    let now = fs::read(&f.runtime).unwrap();
    assert!(
        now == original,
        "the host runtime binary was changed from inside the container ({result})"
    );
    assert!(result.starts_with("refused"), "{result}");
    if is_nook() {
        // nook runs container work from a read-only bind mount of itself.
        assert!(result.contains("Read-only file system"), "{result}");
    }
}

container_test! {
    fn runtime_binary_cannot_be_written_through_proc_pid_exe(f) {
        // CVE-2019-5736 class, made deterministic: a second container joins the first one's pid
        // namespace, so its init (the runtime, blocked in `create`) is visible to the watcher,
        // which holds its /proc/<pid>/exe and, once that process is gone, reopens it for writing.
        // Fails if the runtime's image is the writable host binary (remove the
        // `ensure_sealed()` call in nook's commands and the watcher truncates the copy).
        let original = runtime_copy(&mut f);
        let watcher = start_exe_watcher(&mut f, "");
        let second = f.another_id("joiner");
        f.set_args(&["true"]);
        f.config["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{watcher}/ns/pid")},
            {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
        ]);
        f.create_with(&second, &[]).ok();
        let found = wait_for_file(&f.rootfs().join("found"), "the watcher never saw the runtime");
        assert!(found.starts_with("held"), "{found}");
        f.rt(&["delete", "--force", &second]).ok();
        assert_exe_write_refused(&f, &original);
    }
}

container_test! {
    fn shebang_proc_self_exe_does_not_expose_the_runtime_binary(f) {
        // The original CVE-2019-5736 route: a file in the image starts with `#!/proc/self/exe`;
        // `exec` of it makes the kernel run the runtime's own image as the interpreter, inside
        // the container. The watcher catches that process (its argv[0] is /proc/self/exe),
        // holds its exe and later tries to write it. Repeated until caught: the interpreter
        // lives a few milliseconds.
        let original = runtime_copy(&mut f);
        copy_shared_libraries(&f.runtime, &f.rootfs());
        fs::write(f.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
        fs::set_permissions(f.rootfs().join("evil"), fs::Permissions::from_mode(0o755)).unwrap();
        start_exe_watcher(&mut f, "/proc/self/exe*");
        let found = f.rootfs().join("found");
        for _ in 0..200 {
            // Exits non-zero: the runtime, run with `/evil` as its argument, refuses it.
            let _ = f.rt(&["exec", &f.id, "/evil"]);
            if found.exists() {
                break;
            }
        }
        let found = wait_for_file(&found, "the watcher never caught the re-executed runtime");
        assert!(found.starts_with("held"), "{found}");
        assert_exe_write_refused(&f, &original);
    }
}
