//! `--systemd-cgroup`. Where it must fail: a malformed `linux.cgroupsPath`, and no D-Bus socket
//! to reach systemd; each exits 1 naming the field or the socket and leaves nothing behind.
//! Where it works: against hack/systemd/fake-systemd.py, a stand-in for systemd's manager that
//! speaks the same D-Bus messages (a real systemd as PID 1 is the VM lane's job).

use crate::support::{
    assert_nothing_left, container_test, is_runc, skip, systemd_cgroup, Fixture, Outcome,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The runtime with `--systemd-cgroup` and `args` (the flag once: in the systemd lane
/// `Fixture::cmd` adds it already).
fn systemd_cmd(f: &Fixture, args: &[&str]) -> Command {
    let mut cmd = if systemd_cgroup() {
        f.cmd(&[])
    } else {
        f.cmd(&["--systemd-cgroup"])
    };
    cmd.args(args);
    cmd
}

/// `create --systemd-cgroup` of the fixture's config, with `env` set.
fn create_systemd(f: &Fixture, env: &[(&str, &str)]) -> Outcome {
    f.write_config();
    let bundle = f.bundle();
    let mut cmd = systemd_cmd(f, &["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    f.remember(&f.id);
    f.exec(cmd)
}

#[track_caller]
fn assert_clean_failure(f: &Fixture, out: Outcome, name: &str) {
    let out = out.failed();
    assert!(
        out.stderr.contains(name),
        "stderr does not name {name:?}: {out}"
    );
    crate::support::assert_failed_create_left_nothing(f);
}

container_test! {
    fn systemd_cgroups_path_not_slice_prefix_name(f) {
        f.config["linux"]["cgroupsPath"] = "/nook/not-systemd".into();
        let out = create_systemd(&f, &[]);
        assert_clean_failure(&f, out, "cgroupsPath");
    }
}

container_test! {
    fn systemd_cgroups_path_bad_slice(f) {
        // runc 1.1.5 checks the slice only once it talks to systemd, which this host may lack.
        if is_runc() && !Path::new("/run/systemd/system").exists() {
            skip("systemd_cgroups_path_bad_slice", "systemd", "runc checks the slice after connecting");
            return;
        }
        for bad in ["a--b.slice:p:n", "a/b.slice:p:n", "notaslice:p:n", "system.slice:p:"] {
            f.config["linux"]["cgroupsPath"] = bad.into();
            let out = create_systemd(&f, &[]);
            assert_clean_failure(&f, out, "cgroupsPath");
        }
    }
}

container_test! {
    fn systemd_cgroup_without_dbus_socket(f) {
        if Path::new("/run/systemd/private").exists() {
            skip("systemd_cgroup_without_dbus_socket", "no-systemd",
                 "systemd's private socket is there to fall back on");
            return;
        }
        let missing = f.dir.path().join("no-such-bus");
        let address = format!("unix:path={}", missing.display());
        f.config["linux"]["cgroupsPath"] = "system.slice:nook-test:x".into();
        let out = create_systemd(&f, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)]);
        // runc 1.1.5 checks for /run/systemd/system first and says only that systemd is not
        // running; nook names the socket it could not reach.
        let name = if is_runc() { "systemd" } else { missing.to_str().unwrap() };
        assert_clean_failure(&f, out, name);
    }
}

/// The fake manager, killed on drop.
struct FakeSystemd {
    child: Child,
    address: String,
    log: PathBuf,
}

impl FakeSystemd {
    fn start(f: &Fixture) -> FakeSystemd {
        let sock = f.dir.path().join("bus.sock");
        let log = f.dir.path().join("fake-systemd.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/systemd/fake-systemd.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(&sock)
            .arg(cgroup2_mount())
            .arg(&log)
            .spawn()
            .expect("start hack/systemd/fake-systemd.py");
        // Wait for its socket (it binds before anything else), not for a fixed time.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "fake systemd did not bind {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        FakeSystemd {
            child,
            address: format!("unix:path={}", sock.display()),
            log,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `args` with `--systemd-cgroup` and the fake as the system bus.
    fn rt(&self, f: &Fixture, args: &[&str]) -> Outcome {
        let mut cmd = systemd_cmd(f, args);
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", &self.address);
        f.exec(cmd)
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cgroup2_mount() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("cgroup2 "))
        })
        .expect("a cgroup2 mount");
    PathBuf::from(line.split(' ').nth(4).unwrap())
}

container_test! {
    fn systemd_cgroup_scope_lifecycle_against_a_fake_manager(f) {
        // runc 1.1.5 refuses before D-Bus where /run/systemd/system is missing.
        if is_runc() && !Path::new("/run/systemd/system").exists() {
            skip("systemd_cgroup_scope_lifecycle_against_a_fake_manager", "systemd",
                 "runc needs systemd as PID 1");
            return;
        }
        let fake = FakeSystemd::start(&f);
        let id = f.id.clone();
        let unit = format!("nook-{id}.scope");
        f.config["linux"]["cgroupsPath"] = format!("nookit-sd.slice:nook:{id}").into();
        f.config["linux"]["resources"] =
            serde_json::json!({"memory": {"limit": 104857600}, "pids": {"limit": 50}});
        f.set_args(&["sleep", "1000"]);
        f.write_config();
        let bundle = f.bundle();
        fake.rt(&f, &["create", "--bundle", bundle.to_str().unwrap(), &id]).ok();
        let pid = f.state(&id)["pid"].as_i64().unwrap();
        let started = fake.log();
        assert!(started.contains(&format!("start {unit} ")), "{started}");
        for prop in [
            format!("('PIDs', [{pid}])"),
            "('Slice', 'nookit-sd.slice')".into(),
            "('Delegate', 1)".into(),
            "('TasksMax', 50)".into(),
        ] {
            assert!(started.contains(&prop), "{prop} not in {started}");
        }
        // The init is in the scope's cgroup in every hierarchy, and the limits are in its files.
        let scope = format!("/nookit.slice/nookit-sd.slice/{unit}");
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(cgroups.lines().all(|l| l.ends_with(&scope)), "{cgroups}");
        let memory = if Path::new("/sys/fs/cgroup/memory").is_dir() {
            PathBuf::from(format!("/sys/fs/cgroup/memory{scope}/memory.limit_in_bytes"))
        } else {
            cgroup2_mount().join(&scope[1..]).join("memory.max")
        };
        assert_eq!(fs::read_to_string(&memory).unwrap().trim(), "104857600");
        fake.rt(&f, &["start", &id]).ok();
        let ps = fake.rt(&f, &["ps", "--format", "json", &id]).ok();
        assert!(ps.stdout.contains(&pid.to_string()), "{ps}");
        fake.rt(&f, &["pause", &id]).ok();
        assert_eq!(f.state(&id)["status"], "paused");
        fake.rt(&f, &["resume", &id]).ok();
        fake.rt(&f, &["update", "--pids-limit", "60", &id]).ok();
        let updated = fake.log();
        assert!(updated.contains(&format!("set {unit} [('TasksMax', 60)]")), "{updated}");
        let stats = fake.rt(&f, &["events", "--stats", &id]).ok();
        assert!(stats.stdout.contains("\"pids\""), "{stats}");
        fake.rt(&f, &["kill", "--all", &id, "KILL"]).ok();
        f.wait_status(&id, "stopped");
        fake.rt(&f, &["delete", &id]).ok();
        let stopped = fake.log();
        assert!(stopped.contains(&format!("stop {unit}")), "{stopped}");
        assert_nothing_left(&f, &id);
        for dir in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = fs::remove_dir(dir.path().join("nookit.slice/nookit-sd.slice"));
            let _ = fs::remove_dir(dir.path().join("nookit.slice"));
        }
    }
}
