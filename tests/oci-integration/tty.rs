//! Terminals: with `process.terminal` the runtime sends a pty master over `--console-socket`
//! (hack/recvtty.py receives it here, as conmon or containerd would) and the process gets the
//! slave as its stdio; without a working socket nothing is created.

use crate::support::{assert_nothing_left, container_test, is_nook, Fixture};
use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// hack/recvtty.py listening on a socket in the fixture's dir; killed on drop.
pub(crate) struct Receiver {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
}

impl Receiver {
    pub(crate) fn start(f: &Fixture, name: &str) -> Receiver {
        let socket = f.dir.path().join(format!("{name}.sock"));
        let ready = f.dir.path().join(format!("{name}.ready"));
        let out = f.dir.path().join(format!("{name}.tty"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/hack/recvtty.py");
        let child = Command::new("python3")
            .arg(script)
            .arg("--no-stdin")
            .arg("--ready")
            .arg(&ready)
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3 hack/recvtty.py");
        let receiver = Receiver { child, socket, out };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "recvtty never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
        receiver
    }

    pub(crate) fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    /// Waits until the pty is closed (recvtty exits) and returns all it printed, `\r` removed.
    pub(crate) fn output(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "recvtty failed: {status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the pty was never closed; so far: {:?}",
                fs::read_to_string(&self.out).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        fs::read_to_string(&self.out).unwrap().replace('\r', "")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line of `out` that looks like a pty slave path.
fn pts_line(out: &str) -> Option<&str> {
    out.lines().find(|l| {
        l.strip_prefix("/dev/pts/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

container_test! {
    fn terminal_through_the_console_socket(f) {
        f.config["process"]["terminal"] = json!(true);
        f.config["process"]["consoleSize"] = json!({"height": 31, "width": 97});
        f.set_sh("tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; exit 4");
        let receiver = Receiver::start(&f, "console");
        f.create_with(&f.id, &["--console-socket", receiver.socket()]).ok();
        f.rt(&["start", &f.id]).ok();
        let out = receiver.output();
        assert!(pts_line(&out).is_some(), "tty printed no /dev/pts/N: {out:?}");
        assert!(out.lines().any(|l| l == "31 97"), "stty size is not consoleSize: {out:?}");
        assert!(out.lines().any(|l| l == "all-ttys"), "stdio is not the tty: {out:?}");
        f.wait_status(&f.id, "stopped");
        f.rt(&["delete", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn exec_tty_through_the_console_socket(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let init = f.state(&f.id)["pid"].as_i64().unwrap();
        let receiver = Receiver::start(&f, "exec");
        let pid_file = f.dir.path().join("exec.pid");
        // Callers (containerd) always detach an exec that has a console socket; runc requires it.
        f.rt(&[
            "exec", "--detach", "--tty", "--console-socket", receiver.socket(),
            "--pid-file", pid_file.to_str().unwrap(), &f.id,
            "sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-ttys; readlink /proc/self/ns/pid",
        ]).ok();
        let pid: i64 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        assert_ne!(pid, init);
        let text = receiver.output();
        assert!(pts_line(&text).is_some(), "tty printed no /dev/pts/N: {text:?}");
        assert!(text.lines().any(|l| l == "stdio-ttys"), "{text:?}");
        let init_ns = fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
        assert!(text.lines().any(|l| l == init_ns.to_str().unwrap()), "not in the container: {text:?}");
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

container_test! {
    fn terminal_without_console_socket_fails(f) {
        f.config["process"]["terminal"] = json!(true);
        f.set_args(&["true"]);
        let out = f.create().failed();
        if is_nook() {
            assert!(out.stderr.contains("console-socket"), "{out}");
        }
        f.rt(&["state", &f.id]).failed();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn console_socket_nobody_listens_on_fails_create(f) {
        f.config["process"]["terminal"] = json!(true);
        f.set_args(&["true"]);
        // A socket file whose listener is gone: connecting is refused.
        let socket = f.dir.path().join("dead.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        assert!(socket.exists());
        let out = f.create_with(&f.id, &["--console-socket", socket.to_str().unwrap()]).failed();
        if is_nook() {
            assert!(out.stderr.contains("dead.sock"), "{out}");
        }
        f.rt(&["state", &f.id]).failed();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn foreground_run_with_a_terminal_and_no_socket_gets_a_pty(f) {
        // Like runc: `run` in the foreground makes the pty itself and copies it to its stdio.
        f.config["process"]["terminal"] = json!(true);
        f.set_sh("tty; echo in-pty; exit 3");
        f.write_config();
        let command = format!(
            "{} --root {} run --bundle {} {}",
            crate::support::runtime().display(),
            f.root().display(),
            f.bundle().display(),
            f.id
        );
        // script(1) gives the runtime a terminal of its own; stdin stays open until we are done.
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn script(1)");
        let stdin = child.stdin.take();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert_eq!(out.status.code(), Some(3), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.lines().any(|l| l.starts_with("/dev/pts/")), "{text}");
        assert!(text.contains("in-pty"), "{text}");
        assert_nothing_left(&f, &f.id);
    }
}
