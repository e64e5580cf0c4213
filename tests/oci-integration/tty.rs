//! Terminals: with `process.terminal` the runtime sends a pty master over `--console-socket`
//! (hack/recvtty.py receives it here, as conmon or containerd would) and the process gets the
//! slave as its stdio; without a working socket nothing is created.

use crate::support::{assert_nothing_left, container_test, is_nook, Fixture};
use serde_json::json;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// `s` single-quoted for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The runtime with `args` and then `redirects` (sh syntax, e.g. `</dev/null >out`) under
/// script(1), whose pty is the runtime's terminal: runc proxies a pty only when one of its stdio,
/// or its controlling terminal, is a terminal (the first of stderr, stdout, stdin it sets raw).
/// script's own stdin is a pipe held open until `finish`, so nothing is typed into the pty.
struct Scripted {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    log: PathBuf,
}

impl Scripted {
    fn spawn(f: &Fixture, name: &str, args: &[&str], redirects: &str) -> Scripted {
        let mut line = sh_quote(crate::support::runtime().to_str().unwrap());
        for arg in ["--root", f.root().to_str().unwrap()].iter().chain(args) {
            line.push(' ');
            line.push_str(&sh_quote(arg));
        }
        line.push(' ');
        line.push_str(redirects);
        let log = f.dir.path().join(format!("{name}.script"));
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn script(1)");
        let stdin = child.stdin.take();
        Scripted { child, stdin, log }
    }

    /// The runtime's exit status (script -e passes it on), and what it printed to the terminal.
    fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "script(1) never finished: {}",
                self.printed()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(self.stdin.take());
        (status, self.printed())
    }

    fn printed(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Polls `path` until it holds a /dev/pts/N line and returns it.
fn wait_pts_line(path: &Path, scripted: &Scripted) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = pts_line(&text) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no /dev/pts/N in {text:?}; on the terminal: {}",
            scripted.printed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

container_test! {
    fn foreground_run_terminal_output_is_the_containers_bytes(f) {
        // runc turns ONLCR off on the pty it proxies: piped output has `\n`, not `\r\n`.
        f.config["process"]["terminal"] = json!(true);
        f.set_sh("printf 'a\\nb\\n'");
        f.write_config();
        f.remember(&f.id);
        let out = f.dir.path().join("run.out");
        let bundle = f.bundle();
        let redirect = format!(">{}", sh_quote(out.to_str().unwrap()));
        let scripted = Scripted::spawn(&f, "run", &["run", "--bundle", bundle.to_str().unwrap(), &f.id], &redirect);
        let (status, printed) = scripted.finish();
        assert_eq!(status.code(), Some(0), "{printed}");
        assert_eq!(fs::read(&out).unwrap(), b"a\nb\n", "{printed}");
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn exec_tty_without_console_socket_gets_its_own_pty(f) {
        // Like runc: a foreground `exec -t` makes a pty and copies it to its stdio, stdin a
        // terminal or not; each exec has a pty of its own.
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        // The first exec waits for a line on its stdin, a fifo we hold both ends of.
        let fifo = f.dir.path().join("first.in");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let mut feed = fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
        let first_out = f.dir.path().join("first.out");
        let first = Scripted::spawn(
            &f, "first", &["exec", "-t", &f.id, "sh", "-c", "tty; read x; exit 5"],
            &format!("<{} >{}", sh_quote(fifo.to_str().unwrap()), sh_quote(first_out.to_str().unwrap())),
        );
        let first_tty = wait_pts_line(&first_out, &first);
        let second_out = f.dir.path().join("second.out");
        let (status, printed) = Scripted::spawn(
            &f, "second", &["exec", "-t", &f.id, "sh", "-c", "[ -t 0 ] && [ -t 1 ] && tty; exit 7"],
            &format!("</dev/null >{}", sh_quote(second_out.to_str().unwrap())),
        ).finish();
        assert_eq!(status.code(), Some(7), "{printed}");
        let second = fs::read_to_string(&second_out).unwrap();
        let second_tty = pts_line(&second).unwrap_or_else(|| panic!("no /dev/pts/N: {second:?} {printed}"));
        assert_ne!(first_tty, second_tty);
        // ONLCR is off here too: exactly the line `tty` wrote.
        assert_eq!(second, format!("{second_tty}\n"));
        feed.write_all(b"go\n").unwrap();
        let (status, printed) = first.finish();
        assert_eq!(status.code(), Some(5), "{printed}");
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

/// `stat` of the process's own tty, as "uid gid mode".
const STAT_TTY: &str = "stat -c '%u %g %a' \"$(tty)\"";

container_test! {
    fn init_pty_belongs_to_the_user_with_group_tty(f) {
        // runc leaves group and mode to the devpts mount (gid=5,mode=0620 here) and gives the
        // slave to the process's uid.
        f.config["process"]["terminal"] = json!(true);
        f.set_sh(STAT_TTY);
        let bundle = f.bundle();
        for (user, expected) in [((0, 0), "0 5 620"), ((1000, 100), "1000 5 620")] {
            f.config["process"]["user"] = json!({"uid": user.0, "gid": user.1});
            f.write_config();
            let id = f.another_id(&user.0.to_string());
            f.remember(&id);
            let out = f.dir.path().join(format!("{id}.out"));
            let redirect = format!(">{}", sh_quote(out.to_str().unwrap()));
            let (status, printed) = Scripted::spawn(
                &f, &id, &["run", "--bundle", bundle.to_str().unwrap(), &id], &redirect,
            ).finish();
            assert_eq!(status.code(), Some(0), "{printed}");
            assert_eq!(fs::read_to_string(&out).unwrap().trim_end(), expected, "user {user:?}");
        }
    }
}

container_test! {
    fn exec_pty_belongs_to_the_user_with_group_tty(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        for (user, expected) in [("0:0", "0 5 620"), ("1000:100", "1000 5 620")] {
            let name = format!("exec-{}", user.replace(':', "-"));
            let out = f.dir.path().join(format!("{name}.out"));
            let redirect = format!("</dev/null >{}", sh_quote(out.to_str().unwrap()));
            let (status, printed) = Scripted::spawn(
                &f, &name, &["exec", "-t", "--user", user, &f.id, "sh", "-c", STAT_TTY], &redirect,
            ).finish();
            assert_eq!(status.code(), Some(0), "{printed}");
            assert_eq!(fs::read_to_string(&out).unwrap().trim_end(), expected, "user {user}");
        }
    }
}
