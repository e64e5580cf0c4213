//! create / start / state / kill / delete / list, as containerd's shim drives them.

use crate::support::{
    assert_does_not_exist, assert_nothing_left, container_test, is_nook, pid_alive,
};
use serde_json::Value;
use std::fs;

container_test! {
    fn state_follows_create_start_kill_delete(f) {
        f.set_args(&["sleep", "100"]);
        f.config["annotations"] = serde_json::json!({"org.nook.test": "yes"});
        f.write_config();
        // A relative --bundle must be reported as an absolute path.
        let mut create = f.cmd(&["create", "--bundle", "bundle", &f.id]);
        create.current_dir(f.dir.path());
        f.exec(create).ok();
        let created = f.state(&f.id);
        assert_eq!(created["id"], f.id.as_str());
        assert_eq!(created["status"], "created");
        assert!(created["ociVersion"].as_str().is_some_and(|v| !v.is_empty()), "{created}");
        if is_nook() {
            assert_eq!(created["ociVersion"], "1.3.0");
        }
        let bundle = fs::canonicalize(f.bundle()).unwrap();
        assert_eq!(created["bundle"], bundle.to_str().unwrap());
        assert_eq!(created["annotations"]["org.nook.test"], "yes", "{created}");
        let pid = created["pid"].as_i64().unwrap();
        assert!(pid > 0 && pid_alive(pid), "{created}");

        f.rt(&["start", &f.id]).ok();
        let running = f.state(&f.id);
        assert_eq!(running["status"], "running");
        assert_eq!(running["pid"].as_i64(), Some(pid), "start must not change the init pid");

        f.rt(&["kill", &f.id, "KILL"]).ok();
        f.wait_status(&f.id, "stopped");
        assert!(!pid_alive(pid));

        f.rt(&["delete", &f.id]).ok();
        assert_does_not_exist(f.rt(&["state", &f.id]), &f.id);
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn start_runs_the_process_only_after_start(f) {
        f.set_sh("echo started > /tmp/marker; sleep 100");
        f.create().ok();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let marker = f.rootfs().join("tmp/marker");
        assert!(!marker.exists(), "the user process ran before start");
        f.rt(&["start", &f.id]).ok();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !marker.exists() {
            assert!(std::time::Instant::now() < deadline, "the process never ran after start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

container_test! {
    fn pid_file_holds_the_host_pid_of_init(f) {
        f.set_args(&["sleep", "100"]);
        let pid_file = f.dir.path().join("init.pid");
        f.create_with(&f.id, &["--pid-file", pid_file.to_str().unwrap()]).ok();
        let text = fs::read_to_string(&pid_file).unwrap();
        let pid: i64 = text.trim().parse().unwrap_or_else(|_| panic!("pid file holds {text:?}"));
        assert_eq!(f.state(&f.id)["pid"].as_i64(), Some(pid));
        f.rt(&["start", &f.id]).ok();
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert_eq!(cmdline, b"sleep\x00100\x00");
    }
}

fn kill_with(f: &crate::support::Fixture, signal: &str) {
    let id = f.another_id(&signal.to_lowercase());
    f.create_with(&id, &[]).ok();
    f.rt(&["start", &id]).ok();
    let pid = f.state(&id)["pid"].as_i64().unwrap();
    f.rt(&["kill", &id, signal]).ok();
    f.wait_status(&id, "stopped");
    assert!(!pid_alive(pid), "kill {signal}: init {pid} still alive");
    f.rt(&["delete", &id]).ok();
    assert_nothing_left(f, &id);
}

container_test! {
    fn kill_accepts_name_number_and_sig_prefix(f) {
        f.set_args(&["sleep", "100"]);
        for signal in ["KILL", "9", "SIGKILL"] {
            kill_with(&f, signal);
        }
    }
}

container_test! {
    fn kill_defaults_to_sigterm(f) {
        // pid 1 ignores signals it has no handler for, so install one.
        f.set_sh("trap 'exit 3' TERM; while :; do sleep 0.1; done");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.rt(&["kill", &f.id]).ok();
        f.wait_status(&f.id, "stopped");
    }
}

container_test! {
    fn kill_of_a_stopped_container_fails(f) {
        f.set_args(&["true"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "stopped");
        f.rt(&["kill", &f.id, "KILL"]).failed();
    }
}

container_test! {
    fn delete_of_a_running_container_needs_force(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        f.rt(&["delete", &f.id]).failed();
        assert_eq!(f.state(&f.id)["status"], "running", "a failed delete changed the container");
        assert!(pid_alive(pid));

        f.rt(&["delete", "--force", &f.id]).ok();
        assert!(!pid_alive(pid), "delete --force left the init {pid} running");
        f.rt(&["state", &f.id]).failed();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn delete_force_of_a_created_container_cleans_up(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        f.rt(&["delete", "--force", &f.id]).ok();
        assert!(!pid_alive(pid));
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn delete_of_an_unknown_id_fails_with_runc_wording(f) {
        assert_does_not_exist(f.rt(&["delete", &f.id]), &f.id);
    }
}

container_test! {
    fn list_shows_every_container(f) {
        f.set_args(&["sleep", "100"]);
        let (a, b) = (f.another_id("a"), f.another_id("b"));
        f.create_with(&a, &[]).ok();
        f.create_with(&b, &[]).ok();
        f.rt(&["start", &b]).ok();

        let quiet = f.rt(&["list", "-q"]).ok().stdout;
        let mut ids: Vec<&str> = quiet.lines().collect();
        ids.sort();
        assert_eq!(ids, [a.as_str(), b.as_str()]);

        let table = f.rt(&["list"]).ok().stdout;
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(&header[..4], ["ID", "PID", "STATUS", "BUNDLE"], "{table}");
        assert!(table.lines().any(|l| l.starts_with(&a) && l.contains("created")), "{table}");
        assert!(table.lines().any(|l| l.starts_with(&b) && l.contains("running")), "{table}");

        let json: Value = serde_json::from_str(&f.rt(&["list", "--format", "json"]).ok().stdout).unwrap();
        let entries = json.as_array().unwrap();
        assert_eq!(entries.len(), 2, "{json}");
        let status_of = |id: &str| entries.iter().find(|e| e["id"] == id).map(|e| e["status"].clone());
        assert_eq!(status_of(&a), Some("created".into()));
        assert_eq!(status_of(&b), Some("running".into()));
        for entry in entries {
            assert!(entry["pid"].as_i64().is_some_and(|p| p > 0), "{entry}");
            assert_eq!(entry["bundle"], fs::canonicalize(f.bundle()).unwrap().to_str().unwrap());
        }
    }
}

container_test! {
    fn list_forgets_deleted_containers(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        assert_eq!(f.rt(&["list", "-q"]).ok().stdout, format!("{}\n", f.id));
        f.rt(&["delete", "--force", &f.id]).ok();
        assert_eq!(f.rt(&["list", "-q"]).ok().stdout, "");
        let json = f.rt(&["list", "--format", "json"]).ok().stdout;
        // runc prints `null` for no containers; an empty array means the same to callers.
        let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json:?}"));
        assert!(json.is_null() || json.as_array().is_some_and(|a| a.is_empty()), "{json}");
    }
}
