//! `checkpoint` and `restore` with CRIU: a busybox shell whose counter lives only in its memory
//! (with an open file and a child process) is checkpointed and restored, and counts on from
//! where it was. CRIU comes from `$NOOK_CRIU` (hack/test.sh sets it from hack/criu.sh); without
//! it these tests record a skip. The container's stdio are pipes: CRIU cannot dump a host file
//! (such as /dev/null) that is outside the container's mounts.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, assert_nothing_left, container_test, Fixture, Outcome};

/// Counts in a shell variable, writes each number to /tmp/count (reopened each time) and to
/// fd 3 (/tmp/log, open for the whole run), and has a `sleep` child.
const COUNTER: &str = "i=0; exec 3>>/tmp/log; sleep 1000 & \
                       while :; do i=$((i+1)); echo $i > /tmp/count; echo $i >&3; sleep 0.1; done";

fn criu(test: &str) -> Option<PathBuf> {
    match std::env::var_os("NOOK_CRIU").filter(|c| !c.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            support::skip(
                test,
                "criu",
                "NOOK_CRIU is not set (hack/test.sh sets it from hack/criu.sh)",
            );
            None
        }
    }
}

/// The pipes a detached container keeps as its stdio; held open by the test.
struct Pipes {
    _keep: Vec<OwnedFd>,
}

/// Runs the runtime (with `--criu`) with pipes as its stdio, which a detached container keeps;
/// returns once the runtime itself exited (its output is not read: the container holds the
/// pipe's write end, so reading would wait for the container).
fn piped(f: &Fixture, criu: &Path, args: &[&str]) -> (Outcome, Pipes) {
    piped_with(f, criu, args, false)
}

/// [`piped`], with stdin the host's /dev/null when `null_stdin` (as podman's conmon gives a
/// container without -i).
fn piped_with(f: &Fixture, criu: &Path, args: &[&str], null_stdin: bool) -> (Outcome, Pipes) {
    let (in_r, in_w) = nix::unistd::pipe().unwrap();
    let (out_r, out_w) = nix::unistd::pipe().unwrap();
    let mut cmd = Command::new(&f.runtime);
    cmd.arg("--root")
        .arg(f.root())
        .arg("--criu")
        .arg(criu)
        .args(args)
        .stdin(if null_stdin {
            Stdio::null()
        } else {
            Stdio::from(in_r)
        })
        .stdout(Stdio::from(out_w.try_clone().unwrap()))
        .stderr(Stdio::from(out_w));
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{cmd:?} did not finish");
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        Outcome {
            what: format!("{args:?}"),
            status,
            stdout: String::new(),
            stderr: String::new(),
        },
        Pipes {
            _keep: vec![in_w, out_r],
        },
    )
}

fn count(f: &Fixture) -> u64 {
    fs::read_to_string(f.rootfs().join("tmp/count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the counter reaches `at_least`, or panics after ten seconds.
#[track_caller]
fn wait_count(f: &Fixture, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = count(f);
        if n >= at_least {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "counter stuck at {n}, wanted {at_least}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the counter container `id` detached.
fn start_counter(f: &mut Fixture, criu: &Path, id: &str) -> Pipes {
    f.set_sh(COUNTER);
    f.write_config();
    f.remember(id);
    let bundle = f.bundle();
    let (out, pipes) = piped(
        f,
        criu,
        &["run", "-d", "--bundle", bundle.to_str().unwrap(), id],
    );
    out.ok();
    wait_count(f, 20);
    pipes
}

fn restore(f: &Fixture, criu: &Path, images: &Path, id: &str) -> (Outcome, Pipes) {
    f.remember(id);
    let bundle = f.bundle();
    piped(
        f,
        criu,
        &[
            "restore",
            "-d",
            "--image-path",
            images.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            id,
        ],
    )
}

fn checkpoint(f: &Fixture, criu: &Path, images: &Path, id: &str, extra: &[&str]) -> Outcome {
    let images = images.to_str().unwrap();
    let criu = criu.to_str().unwrap();
    let mut args = vec!["--criu", criu, "checkpoint", "--image-path", images];
    args.extend_from_slice(extra);
    args.push(id);
    f.rt(&args)
}

container_test! {
    fn checkpoint_then_restore_continues_the_counter(f) {
        let Some(criu) = criu("checkpoint_then_restore_continues_the_counter") else { return };
        let id = f.id.clone();
        let _pipes = start_counter(&mut f, &criu, &id);
        let images = f.dir.path().join("images");
        checkpoint(&f, &criu, &images, &id, &[]).ok();
        assert!(images.join("inventory.img").is_file(), "no CRIU images in {images:?}");
        // The processes are gone: the counter stands still.
        let at = count(&f);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(count(&f), at, "counter moved after checkpoint");
        if support::is_nook() {
            // runc removes a checkpointed container; nook leaves it stopped, for `delete`.
            assert_eq!(f.state(&id)["status"], "stopped");
        }
        f.rt(&["delete", "--force", &id]).ok();

        let (out, _restored) = restore(&f, &criu, &images, &id);
        out.ok();
        let state = f.state(&id);
        assert_eq!(state["status"], "running", "{state}");
        // It counts on from where it stood, not from 1.
        let next = wait_count(&f, at + 3);
        assert!(next < at + 100, "counter jumped from {at} to {next}");
        // The open file and the child process came back too.
        let fd3 = f.rt(&["exec", &id, "readlink", "/proc/1/fd/3"]).ok();
        assert_eq!(fd3.stdout.trim(), "/tmp/log");
        let ps = f.rt(&["ps", &id]).ok();
        assert!(ps.stdout.contains("sleep 1000"), "{ps}");
        // The other verbs work on it.
        f.rt(&["pause", &id]).ok();
        assert_eq!(f.state(&id)["status"], "paused");
        let paused = count(&f);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(count(&f), paused, "counter moved while paused");
        f.rt(&["resume", &id]).ok();
        wait_count(&f, paused + 2);
        f.rt(&["kill", &id, "KILL"]).ok();
        f.wait_status(&id, "stopped");
        f.rt(&["delete", &id]).ok();
        assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn leave_running_then_restore_under_a_new_id_while_the_old_runs(f) {
        let Some(criu) =
            criu("leave_running_then_restore_under_a_new_id_while_the_old_runs") else { return };
        let id = f.id.clone();
        let _pipes = start_counter(&mut f, &criu, &id);
        let images = f.dir.path().join("images");
        checkpoint(&f, &criu, &images, &id, &["--leave-running"]).ok();
        assert_eq!(f.state(&id)["status"], "running");
        let at = count(&f);
        wait_count(&f, at + 3);

        let copy = f.another_id("copy");
        let (out, _restored) = restore(&f, &criu, &images, &copy);
        out.ok();
        assert_eq!(f.state(&id)["status"], "running");
        assert_eq!(f.state(&copy)["status"], "running");
        let ps = f.rt(&["ps", &copy]).ok();
        assert!(ps.stdout.contains("sleep 1000"), "{ps}");
        // With the original gone (the copy shares its rootfs and the start of its id, so
        // assert_nothing_left would count the copy), the copy still counts.
        f.rt(&["delete", "--force", &id]).ok();
        support::assert_does_not_exist(f.rt(&["state", &id]), &id);
        let after = count(&f);
        wait_count(&f, after + 3);
        f.rt(&["delete", "--force", &copy]).ok();
        assert_nothing_left(&f, &copy);
    }
}

container_test! {
    fn bad_checkpoints_leave_the_container_running(f) {
        let Some(criu) = criu("bad_checkpoints_leave_the_container_running") else { return };
        let id = f.id.clone();
        let _pipes = start_counter(&mut f, &criu, &id);
        let images = f.dir.path().join("images");

        // No CRIU where --criu points.
        let missing = f.dir.path().join("no-such-criu");
        let out = checkpoint(&f, &missing, &images, &id, &[]).failed();
        if support::is_nook() {
            assert!(out.stderr.contains("criu"), "{out}");
        }
        assert_eq!(f.state(&id)["status"], "running");
        let at = count(&f);
        wait_count(&f, at + 3);

        // An unknown container.
        let out = checkpoint(&f, &criu, &images, "no-such-container", &[]).failed();
        assert!(out.stderr.contains("does not exist"), "{out}");

        // A container that is not running (created, never started).
        let created = f.another_id("created");
        f.create_with(&created, &[]).ok();
        let out = checkpoint(&f, &criu, &images, &created, &[]).failed();
        if support::is_nook() {
            assert!(out.stderr.contains("not running"), "{out}");
        }
        assert_eq!(f.state(&created)["status"], "created");
        f.rt(&["delete", "--force", &created]).ok();
        assert_eq!(f.state(&id)["status"], "running");
    }
}

container_test! {
    fn bad_restores_leave_nothing_behind(f) {
        let Some(criu) = criu("bad_restores_leave_nothing_behind") else { return };
        let id = f.id.clone();
        let _pipes = start_counter(&mut f, &criu, &id);
        let images = f.dir.path().join("images");
        checkpoint(&f, &criu, &images, &id, &["--leave-running"]).ok();

        // Over an id that exists: refused, the container untouched.
        let (out, _p) = restore(&f, &criu, &images, &id);
        assert_eq!(out.code(), Some(1), "{out}");
        assert_eq!(f.state(&id)["status"], "running");
        let at = count(&f);
        wait_count(&f, at + 3);
        // The rest would count the original's processes (same rootfs) as leftovers.
        f.rt(&["delete", "--force", &id]).ok();

        // No images at all.
        let other = f.another_id("other");
        let (out, _p) = restore(&f, &criu, &f.dir.path().join("nothing-here"), &other);
        assert_eq!(out.code(), Some(1), "{out}");
        assert_nothing_left(&f, &other);

        // Corrupt images: CRIU itself fails, and the container it was making goes.
        let corrupt = f.dir.path().join("corrupt");
        fs::create_dir(&corrupt).unwrap();
        for entry in fs::read_dir(&images).unwrap().flatten() {
            fs::copy(entry.path(), corrupt.join(entry.file_name())).unwrap();
        }
        fs::write(corrupt.join("inventory.img"), b"not an image").unwrap();
        let (out, _p) = restore(&f, &criu, &corrupt, &other);
        assert_eq!(out.code(), Some(1), "{out}");
        assert_nothing_left(&f, &other);
        f.rt(&["state", &other]).failed();
        assert_nothing_left(&f, &id);
    }
}

/// The last number the in-container TCP server received.
fn received(f: &Fixture) -> u64 {
    fs::read_to_string(f.rootfs().join("tmp/got"))
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

container_test! {
    fn an_established_tcp_connection_survives_with_tcp_established(f) {
        let Some(criu) =
            criu("an_established_tcp_connection_survives_with_tcp_established") else { return };
        // A listener and a client connected to it over the container's own loopback; the
        // client sends the counter.
        f.set_sh(
            "ip link set lo up; sleep 1000 | nc -l -p 8080 > /tmp/got & sleep 0.5; \
             i=0; while :; do i=$((i+1)); echo $i; echo $i > /tmp/count; sleep 0.1; done \
             | nc 127.0.0.1 8080",
        );
        for set in ["bounding", "effective", "permitted"] {
            f.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_NET_ADMIN".into());
        }
        f.write_config();
        let id = f.id.clone();
        f.remember(&id);
        let bundle = f.bundle();
        let (out, _pipes) =
            piped(&f, &criu, &["run", "-d", "--bundle", bundle.to_str().unwrap(), &id]);
        out.ok();
        wait_count(&f, 10);
        let images = f.dir.path().join("images");

        // Without the flag CRIU refuses the connection, and the container runs on.
        let out = checkpoint(&f, &criu, &images, &id, &[]).failed();
        if support::is_nook() {
            assert!(out.stderr.contains("tcp-established"), "{out}");
        }
        assert_eq!(f.state(&id)["status"], "running");

        checkpoint(&f, &criu, &images, &id, &["--tcp-established"]).ok();
        if support::is_runc() {
            // runc 1.1.5's restore brings this container's loopback back down, and CRIU cannot
            // reconnect the socket ("Network is unreachable").
            support::skip(
                "an_established_tcp_connection_survives_with_tcp_established",
                "runc-tcp-restore",
                "runc 1.1.5 fails this restore; only the checkpoint is checked",
            );
            return;
        }
        let at = received(&f);
        f.rt(&["delete", "--force", &id]).ok();
        f.remember(&id);
        let bundle = bundle.to_str().unwrap();
        let images = images.to_str().unwrap();
        let (out, _restored) = piped(
            &f,
            &criu,
            &["restore", "-d", "--tcp-established", "--image-path", images, "--bundle", bundle, &id],
        );
        out.ok();
        assert_eq!(f.state(&id)["status"], "running");
        // The same connection carries the numbers on.
        let deadline = Instant::now() + Duration::from_secs(10);
        while received(&f) < at + 3 {
            assert!(Instant::now() < deadline, "nothing received after {at}");
            std::thread::sleep(Duration::from_millis(50));
        }
        f.rt(&["delete", "--force", &id]).ok();
        assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn pre_dump_without_soft_dirty_is_a_clear_error(f) {
        let Some(criu) = criu("pre_dump_without_soft_dirty_is_a_clear_error") else { return };
        let id = f.id.clone();
        let _pipes = start_counter(&mut f, &criu, &id);
        let images = f.dir.path().join("images");
        let out = checkpoint(&f, &criu, &images, &id, &["--pre-dump"]);
        if out.status.success() {
            // A kernel with soft-dirty tracking: the pre-dump left the container running.
            assert_eq!(f.state(&id)["status"], "running");
            return;
        }
        let out = out.failed();
        if support::is_nook() {
            assert!(out.stderr.contains("soft-dirty"), "{out}");
        }
        support::skip(
            "pre_dump_without_soft_dirty_is_a_clear_error",
            "soft-dirty",
            "this kernel has no soft-dirty tracking: only the error is checked",
        );
        assert_eq!(f.state(&id)["status"], "running");
        let at = count(&f);
        wait_count(&f, at + 3);
    }
}

container_test! {
    fn a_dev_null_stdin_is_the_containers_own(f) {
        // The host's /dev/null on fd 0 lies on a mount outside the container (CRIU could not
        // dump it); the init gets the container's own /dev/null instead, as runc does.
        let out = f.run_sh("stat -L -c %d:%i /proc/self/fd/0; stat -c %d:%i /dev/null");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        // runc 1.1.5 keeps the host's on a foreground `run` (its checkpoint copes through
        // external device mounts); nook always reopens it.
        if support::is_nook() {
            assert_eq!(lines[0], lines[1], "stdin is not the container's /dev/null: {out}");
        }
    }
}

container_test! {
    fn checkpoint_and_restore_with_a_dev_null_stdin(f) {
        let Some(criu) = criu("checkpoint_and_restore_with_a_dev_null_stdin") else { return };
        f.set_sh(COUNTER);
        f.write_config();
        let id = f.id.clone();
        f.remember(&id);
        let bundle = f.bundle();
        let bundle = bundle.to_str().unwrap();
        let (out, _pipes) = piped_with(&f, &criu, &["run", "-d", "--bundle", bundle, &id], true);
        out.ok();
        wait_count(&f, 20);
        let images = f.dir.path().join("images");
        checkpoint(&f, &criu, &images, &id, &[]).ok();
        let at = count(&f);
        f.rt(&["delete", "--force", &id]).ok();
        f.remember(&id);
        let images = images.to_str().unwrap();
        let (out, _restored) = piped_with(
            &f,
            &criu,
            &["restore", "-d", "--image-path", images, "--bundle", bundle, &id],
            true,
        );
        out.ok();
        assert_eq!(f.state(&id)["status"], "running");
        wait_count(&f, at + 3);
        f.rt(&["delete", "--force", &id]).ok();
        assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn a_bind_mount_is_mapped_again_on_restore(f) {
        let Some(criu) = criu("a_bind_mount_is_mapped_again_on_restore") else { return };
        // The counter writes into a host directory bound at /data (open there as fd 3).
        let data = f.dir.path().join("data");
        fs::create_dir(&data).unwrap();
        f.config["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/data", "type": "bind", "source": data.to_str().unwrap(),
            "options": ["rbind", "rw"]
        }));
        f.set_sh(
            "i=0; exec 3>>/data/log; \
             while :; do i=$((i+1)); echo $i > /data/count; echo $i > /tmp/count; echo $i >&3; \
             sleep 0.1; done",
        );
        f.write_config();
        let id = f.id.clone();
        f.remember(&id);
        let bundle = f.bundle();
        let bundle = bundle.to_str().unwrap();
        let (out, _pipes) = piped(&f, &criu, &["run", "-d", "--bundle", bundle, &id]);
        out.ok();
        wait_count(&f, 10);
        let images = f.dir.path().join("images");
        checkpoint(&f, &criu, &images, &id, &[]).ok();
        f.rt(&["delete", "--force", &id]).ok();
        // As in a rootfs that never held the container: the mount point is made again.
        fs::remove_dir(f.rootfs().join("data")).unwrap();
        let host_count = || -> u64 {
            fs::read_to_string(data.join("count"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        let at = host_count();
        f.remember(&id);
        let images = images.to_str().unwrap();
        let (out, _restored) = piped(
            &f,
            &criu,
            &["restore", "-d", "--image-path", images, "--bundle", bundle, &id],
        );
        out.ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while host_count() < at + 3 {
            assert!(Instant::now() < deadline, "the host directory stopped at {at}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let fd3 = f.rt(&["exec", &id, "readlink", "/proc/1/fd/3"]).ok();
        assert_eq!(fd3.stdout.trim(), "/data/log");
        f.rt(&["delete", "--force", &id]).ok();
        assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn a_terminal_container_gets_a_new_pty_through_the_console_socket(f) {
        let Some(criu) =
            criu("a_terminal_container_gets_a_new_pty_through_the_console_socket") else { return };
        let criu = criu.to_str().unwrap();
        f.config["process"]["terminal"] = serde_json::json!(true);
        // A createRuntime hook keeps the state it was given: restore runs it too.
        let hook_out = f.dir.path().join("hook-state.json");
        f.config["hooks"] = serde_json::json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", hook_out.display())]
        }]});
        f.set_sh(COUNTER);
        f.write_config();
        let id = f.id.clone();
        f.remember(&id);
        let bundle = f.bundle();
        let bundle = bundle.to_str().unwrap();
        let first = crate::tty::Receiver::start(&f, "first");
        f.rt(&["run", "-d", "--console-socket", first.socket(), "--bundle", bundle, &id]).ok();
        wait_count(&f, 10);
        let images = f.dir.path().join("images");
        let images = images.to_str().unwrap();
        f.rt(&["--criu", criu, "checkpoint", "--image-path", images, &id]).ok();
        drop(first);
        f.rt(&["delete", "--force", &id]).ok();
        let at = count(&f);

        // Without a console socket there is nowhere to send the new pty: refused up front.
        let out = f
            .rt(&["--criu", criu, "restore", "-d", "--image-path", images, "--bundle", bundle, &id])
            .failed();
        if support::is_nook() {
            assert!(out.stderr.contains("console-socket"), "{out}");
        }
        assert_nothing_left(&f, &id);

        let second = crate::tty::Receiver::start(&f, "second");
        fs::remove_file(&hook_out).unwrap();
        let pid_file = f.dir.path().join("restored.pid");
        f.rt(&[
            "--criu", criu, "restore", "-d", "--console-socket", second.socket(),
            "--pid-file", pid_file.to_str().unwrap(),
            "--image-path", images, "--bundle", bundle, &id,
        ])
        .ok();
        let state = f.state(&id);
        assert_eq!(state["status"], "running");
        assert_eq!(fs::read_to_string(&pid_file).unwrap(), state["pid"].to_string());
        let hook: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&hook_out).unwrap()).unwrap();
        assert_eq!(hook["id"], id.as_str(), "{hook}");
        if support::is_nook() {
            assert_eq!(hook["pid"], state["pid"], "{hook}");
        }
        wait_count(&f, at + 3);
        let tty = f.rt(&["exec", &id, "readlink", "/proc/1/fd/0"]).ok();
        assert!(tty.stdout.starts_with("/dev/pts/"), "{tty}");
        f.rt(&["delete", "--force", &id]).ok();
        assert_nothing_left(&f, &id);
    }
}
