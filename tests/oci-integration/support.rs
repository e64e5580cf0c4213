//! The harness: every test gets a `Fixture` (a fresh temp dir holding a private `--root` state dir
//! and a busybox bundle) and builds runtime commands from it. The runtime under test is
//! `$NOOK_RUNTIME`, or the nook binary cargo built; the same tests run against runc to prove they
//! are right before they judge nook.

use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any single runtime command may take before the test fails as hung.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Declares a test that gets a fresh `Fixture` named after the test.
macro_rules! container_test {
    ($(#[$attr:meta])* fn $name:ident($f:ident) $body:block) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            #[allow(unused_mut)]
            let mut $f = $crate::support::Fixture::new(stringify!($name));
            $body
        }
    };
}
pub(crate) use container_test;

/// The runtime binary under test.
pub fn runtime() -> PathBuf {
    match std::env::var_os("NOOK_RUNTIME") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_nook")),
    }
}

/// True in the systemd lane (`$NOOK_SYSTEMD_CGROUP=1`, hack/vm/systemd.sh): every runtime command
/// the tests build gets `--systemd-cgroup`, so each container's cgroup is a scope that systemd
/// makes; tests that need a plain cgroupfs `cgroupsPath` skip there (support::skip).
pub fn systemd_cgroup() -> bool {
    std::env::var("NOOK_SYSTEMD_CGROUP").is_ok_and(|v| v == "1")
}

/// A command for `runtime` with the lane's global flags (`--systemd-cgroup` in the systemd lane).
pub fn runtime_command(runtime: &Path) -> Command {
    let mut cmd = Command::new(runtime);
    if systemd_cgroup() {
        cmd.arg("--systemd-cgroup");
    }
    cmd
}

/// The first word of the runtime's `--version` ("nook", "runc", "crun"), asked once: the
/// binary may be a copy under any name.
fn runtime_kind() -> &'static str {
    static KIND: OnceLock<String> = OnceLock::new();
    KIND.get_or_init(|| {
        let out = Command::new(runtime())
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{} --version: {e}", runtime().display()));
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

/// True when the runtime under test is nook itself; assertions about where nook deliberately
/// differs from runc 1.1.5 are made only then.
pub fn is_nook() -> bool {
    runtime_kind() == "nook"
}

/// True when the runtime under test is runc; used only to excuse documented runc 1.1.5 gaps.
pub fn is_runc() -> bool {
    runtime_kind() == "runc"
}

/// Records that `test` checks nothing here (or less than it could) for want of `feature`, and
/// why. Printed on stderr and appended to `$NOOK_SKIP_LOG` (hack/test.sh and the VM lane count
/// and print that file), so no skip passes silently. A lane that has the feature names it in
/// `$NOOK_REQUIRE` (comma-separated): a skip for it there fails the test.
pub fn skip(test: &str, feature: &str, why: &str) {
    let line = format!("SKIP {test} [{feature}]: {why}");
    let required = std::env::var("NOOK_REQUIRE").unwrap_or_default();
    assert!(
        !required.split(',').any(|r| r.trim() == feature),
        "{line}, but this lane has {feature} ($NOOK_REQUIRE)"
    );
    eprintln!("{line}");
    if let Some(log) = std::env::var_os("NOOK_SKIP_LOG").filter(|l| !l.is_empty()) {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&log).display()));
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

/// The result of one finished command.
#[derive(Debug)]
pub struct Outcome {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with everything known about the command unless it exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "command failed: {self}");
        self
    }

    /// Panics unless the command exited 1 with a non-empty stderr.
    #[track_caller]
    pub fn failed(self) -> Self {
        assert_eq!(self.code(), Some(1), "expected exit status 1: {self}");
        assert!(
            !self.stderr.trim().is_empty(),
            "expected an error message on stderr: {self}"
        );
        self
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// A test's private world: temp dir, state dir, bundle, config and the ids to clean up.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub id: String,
    pub config: Value,
    /// The runtime binary this fixture drives (`runtime()` unless a test swaps in a copy).
    pub runtime: PathBuf,
    ids: RefCell<Vec<String>>,
    seq: AtomicU32,
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("nook-it-")
            .tempdir()
            .expect("create temp dir");
        let fixture = Fixture {
            id: unique_id(name),
            dir,
            config: base_config(),
            runtime: runtime(),
            ids: RefCell::new(Vec::new()),
            seq: AtomicU32::new(0),
        };
        fs::create_dir(fixture.root()).unwrap();
        build_rootfs(&fixture.rootfs());
        fixture
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }

    /// A further unique id in this fixture, cleaned up on drop like the main one.
    pub fn another_id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.id);
        self.remember(&id);
        id
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
    }

    pub fn set_sh(&mut self, script: &str) {
        self.set_args(&["sh", "-c", script]);
    }

    pub fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        fs::write(self.bundle().join("config.json"), text).unwrap();
    }

    /// A command for the runtime with this fixture's `--root`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = runtime_command(&self.runtime);
        cmd.arg("--root").arg(self.root()).args(args);
        cmd
    }

    /// Runs `cmd` to completion, with stdin empty and stdout/stderr captured through files (a
    /// pipe would stay open as long as a created container holds it).
    #[track_caller]
    pub fn exec(&self, mut cmd: Command) -> Outcome {
        let child = self.spawn(&mut cmd);
        self.finish(child, &cmd)
    }

    pub fn spawn(&self, cmd: &mut Command) -> Spawned {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let out = self.dir.path().join(format!("io-{n}.out"));
        let err = self.dir.path().join(format!("io-{n}.err"));
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Spawned { child, out, err }
    }

    #[track_caller]
    pub fn finish(&self, mut spawned: Spawned, cmd: &Command) -> Outcome {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = spawned.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = spawned.child.kill();
                let _ = spawned.child.wait();
                panic!("{cmd:?} did not finish within {COMMAND_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Outcome {
            what: format!("{cmd:?}"),
            status,
            stdout: fs::read_to_string(&spawned.out).unwrap_or_default(),
            stderr: fs::read_to_string(&spawned.err).unwrap_or_default(),
        }
    }

    /// Runs the runtime with `args` under this fixture's `--root`.
    #[track_caller]
    pub fn rt(&self, args: &[&str]) -> Outcome {
        self.exec(self.cmd(args))
    }

    /// Deletes `id` (forced) when the fixture is dropped.
    pub fn remember(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_string());
    }

    /// `run` of the current config in the foreground.
    #[track_caller]
    pub fn run(&self) -> Outcome {
        self.write_config();
        self.remember(&self.id);
        let bundle = self.bundle();
        self.rt(&["run", "--bundle", bundle.to_str().unwrap(), &self.id])
    }

    /// Sets `sh -c script`, runs it, requires success and returns its stdout.
    #[track_caller]
    pub fn run_sh(&mut self, script: &str) -> String {
        self.set_sh(script);
        self.run().ok().stdout
    }

    /// `create` of the current config under `id`, with extra flags before the id.
    #[track_caller]
    pub fn create_with(&self, id: &str, flags: &[&str]) -> Outcome {
        self.write_config();
        self.remember(id);
        let bundle = self.bundle();
        let mut args = vec!["create", "--bundle", bundle.to_str().unwrap()];
        args.extend_from_slice(flags);
        args.push(id);
        self.rt(&args)
    }

    #[track_caller]
    pub fn create(&self) -> Outcome {
        self.create_with(&self.id, &[])
    }

    /// The parsed `state` of `id`; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]).ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {out}"))
    }

    /// Polls `state` until `id` has `status`, or panics after ten seconds.
    #[track_caller]
    pub fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.state(id);
            if state["status"] == status {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never became {status}: {state}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            // The runtime under test itself, not a copy a test may have swapped in (and an
            // attack may have broken).
            let _ = runtime_command(&runtime())
                .arg("--root")
                .arg(self.root())
                .args(["delete", "--force", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub struct Spawned {
    pub child: std::process::Child,
    pub out: PathBuf,
    err: PathBuf,
}

fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the OCI integration tests create real containers and must run as root (try `sudo hack/test.sh`)"
    );
}

fn unique_id(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{}-{}-{n}", name.replace('_', "-"), std::process::id())
}

fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("run /bin/busybox --list");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    })
}

/// A minimal rootfs: a private copy of busybox (never a hardlink: a container running as root could
/// write through it to the host's binary) and symlinks for every applet.
pub fn build_rootfs(rootfs: &Path) {
    for dir in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "etc",
        "root",
        "home/tester",
        "mnt",
    ] {
        fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("copy /bin/busybox (install busybox-static)");
    for applet in applets() {
        if applet != "busybox" {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntester:x:1000:\nextra:x:2000:tester\n",
    )
    .unwrap();
}

/// The config `runc spec` writes (runc 1.1.5), with terminal off so stdio can be captured.
pub fn base_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// The target of the host's `/proc/self/ns/<kind>`, e.g. `net:[4026531840]`.
pub fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Whether `pid` is alive (a zombie counts as dead).
pub fn pid_alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Everything a container `id` of fixture `f` could leave on the host. Empty means nothing leaked.
pub fn leftovers(f: &Fixture, id: &str) -> Vec<String> {
    let mut found = Vec::new();
    let plain = !id.is_empty() && id != "." && id != ".." && !id.contains('/');
    if plain && f.root().join(id).exists() {
        found.push(format!("state dir {}", f.root().join(id).display()));
    }
    let bundle = f.bundle();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = f.dir.path().to_string_lossy().into_owned();
    for line in mountinfo.lines().filter(|l| l.contains(&dir)) {
        found.push(format!("host mount: {line}"));
    }
    if id.len() > 2 {
        find_cgroups(Path::new("/sys/fs/cgroup"), id, 0, &mut found);
    }
    found.extend(processes_using(&bundle, id));
    found
}

fn find_cgroups(dir: &Path, id: &str, depth: u32, found: &mut Vec<String>) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && !kind.is_symlink() {
            if entry.file_name().to_string_lossy().contains(id) {
                found.push(format!("cgroup {}", entry.path().display()));
            }
            find_cgroups(&entry.path(), id, depth + 1, found);
        }
    }
}

/// Live processes whose root or cwd is the bundle's rootfs (compared by device and inode, which a
/// bind mount and pivot_root preserve), or whose command line names the bundle or the id.
fn processes_using(bundle: &Path, id: &str) -> Vec<String> {
    let rootfs = fs::metadata(bundle.join("rootfs"))
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let bundle_text = bundle.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i64>() else {
            continue;
        };
        if pid == i64::from(std::process::id()) || !pid_alive(pid) {
            continue;
        }
        let same = |link: &str| {
            let meta = fs::metadata(format!("/proc/{pid}/{link}")).ok();
            rootfs.is_some() && meta.map(|m| (m.dev(), m.ino())) == rootfs
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let names = cmdline.contains(&bundle_text) || (id.len() > 2 && cmdline.contains(id));
        if same("root") || same("cwd") || names {
            found.push(format!("process {pid}: {cmdline}"));
        }
    }
    found
}

/// Asserts `out` is the failure callers expect for an unknown container `id`.
#[track_caller]
pub fn assert_does_not_exist(out: Outcome, id: &str) {
    let out = out.failed();
    assert!(out.stderr.contains("does not exist"), "{out}");
    // containerd and podman match this exact wording; runc 1.1.5 omits the quoted id.
    if !is_runc() {
        assert!(
            out.stderr
                .contains(&format!("container \"{id}\" does not exist")),
            "{out}"
        );
    }
}

/// Asserts that nothing of container `id` remains, allowing two seconds for killed processes to die.
#[track_caller]
pub fn assert_nothing_left(f: &Fixture, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = leftovers(f, id);
        if found.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "container {id:?} left things behind:\n  {}",
                found.join("\n  ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The line of `mountinfo` text whose mount point is `target`, if any (the last one wins, as
/// the last mount on a path is the visible one).
pub fn mountinfo_line<'a>(mountinfo: &'a str, target: &str) -> Option<&'a str> {
    mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(target))
}

/// After a `create` of `f.id` that failed: no such container, nothing of it left on the host,
/// and nothing at all under `--root`.
#[track_caller]
pub fn assert_failed_create_left_nothing(f: &Fixture) {
    f.rt(&["state", &f.id]).failed();
    assert_nothing_left(f, &f.id);
    let entries: Vec<_> = fs::read_dir(f.root())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "state left under --root: {entries:?}");
}
