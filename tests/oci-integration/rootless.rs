//! Rootless containers: the runtime run by an unprivileged user (created here, with
//! /etc/subuid and /etc/subgid ranges) through `setpriv`, on a bundle shaped as
//! `spec --rootless` shapes it. The suite itself runs as root.

use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{assert_nothing_left, container_test, is_nook, is_runc, Fixture, Outcome};

/// The unprivileged user the tests run the runtime as.
const USER: &str = "nooktest";

struct User {
    uid: u32,
    gid: u32,
    /// First id of the user's /etc/subuid (and /etc/subgid) range.
    subuid: u32,
    subgid: u32,
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, USER]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The first subordinate id of `USER` in `file` (`name:start:count` lines).
fn sub_start(file: &str) -> Option<u32> {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(USER)).then(|| f.next()?.parse().ok())?
    })
}

/// Creates the user (once per run) with 65536 subordinate uids and gids.
fn user() -> &'static User {
    static USER_INFO: OnceLock<User> = OnceLock::new();
    USER_INFO.get_or_init(|| {
        if !Command::new("id")
            .arg(USER)
            .output()
            .unwrap()
            .status
            .success()
        {
            let ok = Command::new("useradd").args(["-m", USER]).status().unwrap();
            assert!(ok.success(), "useradd {USER}");
        }
        if sub_start("/etc/subuid").is_none() || sub_start("/etc/subgid").is_none() {
            let ok = Command::new("usermod")
                .args([
                    "--add-subuids",
                    "300000-365535",
                    "--add-subgids",
                    "300000-365535",
                ])
                .arg(USER)
                .status()
                .unwrap();
            assert!(ok.success(), "usermod --add-subuids {USER}");
        }
        User {
            uid: id_of("-u"),
            gid: id_of("-g"),
            subuid: sub_start("/etc/subuid").unwrap(),
            subgid: sub_start("/etc/subgid").unwrap(),
        }
    })
}

/// Makes the fixture the user's: its config as `spec --rootless` writes it for that user (own
/// user namespace mapping the user alone, no network namespace, /sys bound from the host, no
/// resources), and the whole temp dir (state dir, bundle) owned by the user.
fn make_rootless(f: &mut Fixture) -> &'static User {
    let u = user();
    let linux = &mut f.config["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": u.uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1}]);
    linux.as_object_mut().unwrap().remove("resources");
    linux["namespaces"] = json!([
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
    ]);
    for m in f.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        if let Some(opts) = m.get_mut("options").and_then(|o| o.as_array_mut()) {
            opts.retain(|o| o != "gid=5");
        }
    }
    let owner = format!("{}:{}", u.uid, u.gid);
    let ok = Command::new("chown")
        .args(["-R", &owner])
        .arg(f.dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    u
}

/// The runtime run as the user, with `--root` the fixture's state dir (when `root`).
fn user_cmd(f: &Fixture, root: bool, args: &[&str]) -> Command {
    let u = user();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string()])
        .arg("--init-groups")
        .arg(&f.runtime);
    if root {
        cmd.arg("--root").arg(f.root());
    }
    cmd.args(args).env_remove("XDG_RUNTIME_DIR");
    cmd
}

#[track_caller]
fn as_user(f: &Fixture, args: &[&str]) -> Outcome {
    f.exec(user_cmd(f, true, args))
}

/// `run` of the fixture's config as the user, in the foreground.
#[track_caller]
fn run_as_user(f: &Fixture) -> Outcome {
    f.write_config();
    f.remember(&f.id);
    let bundle = f.bundle();
    as_user(f, &["run", "--bundle", bundle.to_str().unwrap(), &f.id])
}

fn words(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

container_test! {
    fn rootless_run_maps_only_the_user(f) {
        let u = make_rootless(&mut f);
        f.set_sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups");
        let out = run_as_user(&f).ok();
        assert_eq!(
            words(&out.stdout),
            ["0", "0", &format!("0 {} 1", u.uid), &format!("0 {} 1", u.gid), "deny"],
            "{out}"
        );
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_spec_bundle_runs_as_the_user(f) {
        // The issue's report: the config `spec --rootless` writes, run by the user who wrote it
        // with a --root of their own.
        make_rootless(&mut f);
        let bundle = f.bundle();
        fs::remove_file(bundle.join("config.json")).ok();
        let mut spec = user_cmd(&f, false, &["spec", "--rootless"]);
        spec.current_dir(&bundle);
        f.exec(spec).ok();
        let text = fs::read_to_string(bundle.join("config.json")).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
        fs::write(bundle.join("config.json"), config.to_string()).unwrap();
        f.remember(&f.id);
        let out = as_user(&f, &["run", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        assert_eq!(words(&out.stdout), ["0".to_string(), format!("0 {} 1", user().uid)], "{out}");
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_state_defaults_to_xdg_runtime_dir(f) {
        // runc's rule: an unprivileged caller without --root keeps state in
        // $XDG_RUNTIME_DIR/<runtime name>.
        make_rootless(&mut f);
        let xdg = f.dir.path().join("xdg");
        fs::create_dir(&xdg).unwrap();
        let u = user();
        std::os::unix::fs::chown(&xdg, Some(u.uid), Some(u.gid)).unwrap();
        f.set_args(&["sleep", "100"]);
        f.write_config();
        let bundle = f.bundle();
        let with_xdg = |args: &[&str]| {
            let mut cmd = user_cmd(&f, false, args);
            cmd.env("XDG_RUNTIME_DIR", &xdg);
            f.exec(cmd)
        };
        with_xdg(&["create", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        let name = if is_runc() { "runc" } else { "nook" };
        let state = xdg.join(name).join(&f.id);
        let there = state.exists();
        with_xdg(&["delete", "--force", &f.id]).ok();
        assert!(there, "no state at {}", state.display());
        assert!(!state.exists(), "delete left {}", state.display());
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_create_exec_ps_kill_delete(f) {
        make_rootless(&mut f);
        f.set_args(&["sleep", "100"]);
        f.write_config();
        f.remember(&f.id);
        let bundle = f.bundle();
        as_user(&f, &["create", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "created");
        as_user(&f, &["start", &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        let host_uid = fs::metadata(format!("/proc/{pid}")).unwrap().uid();
        assert_eq!(host_uid, user().uid, "the init runs as the user on the host");
        let out = as_user(&f, &["exec", &f.id, "sh", "-c", "id -u; cat /proc/1/comm"]).ok();
        assert_eq!(words(&out.stdout), ["0", "sleep"], "{out}");
        // A second process, for ps and kill --all to find.
        as_user(&f, &["exec", "--detach", &f.id, "sleep", "200"]).ok();
        // runc 1.1.5 lists processes only through a cgroup ("runc ps may fail if you don't
        // have the full access to cgroups"); nook lists the init's pid namespace instead.
        let mut pids = vec![pid];
        if !is_runc() {
            let ps = as_user(&f, &["ps", "--format", "json", &f.id]).ok();
            pids = serde_json::from_str(&ps.stdout).unwrap();
            assert!(pids.contains(&pid), "{ps}");
            assert_eq!(pids.len(), 2, "{ps}");
        }
        // runc 1.1.5's kill --all needs a cgroup too; nook signals the pid namespace.
        let all: &[&str] = if is_runc() { &[] } else { &["--all"] };
        as_user(&f, &[&["kill"], all, &[&f.id, "KILL"]].concat()).ok();
        f.wait_status(&f.id, "stopped");
        as_user(&f, &["delete", &f.id]).ok();
        assert!(!f.root().join(&f.id).exists());
        for p in pids {
            assert!(!crate::support::pid_alive(p), "process {p} outlived delete");
        }
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_several_ranges_through_newuidmap(f) {
        // More than the user's own id: the runtime has newuidmap/newgidmap write the maps,
        // within the user's /etc/subuid and /etc/subgid ranges.
        let u = make_rootless(&mut f);
        f.config["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": u.subuid, "size": 65536}
        ]);
        f.config["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": u.gid, "size": 1},
            {"containerID": 1, "hostID": u.subgid, "size": 65536}
        ]);
        f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        f.set_sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/made");
        let out = run_as_user(&f).ok();
        assert_eq!(
            words(&out.stdout),
            [
                "1000".to_string(),
                "1000".to_string(),
                format!("0 {} 1", u.uid),
                format!("1 {} 65536", u.subuid),
                format!("0 {} 1", u.gid),
                format!("1 {} 65536", u.subgid),
            ],
            "{out}"
        );
        let made = fs::metadata(f.rootfs().join("tmp/made")).unwrap();
        assert_eq!((made.uid(), made.gid()), (u.subuid + 999, u.subgid + 999));
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_several_ranges_outside_subuid_are_refused(f) {
        let u = make_rootless(&mut f);
        f.config["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": 5000, "size": 10}
        ]);
        f.set_args(&["true"]);
        let out = run_as_user(&f).failed();
        if is_nook() {
            assert!(out.stderr.contains("linux.uid_map: newuidmap"), "{out}");
        }
        assert_nothing_left(&f, &f.id);
    }
}

/// A cgroup directory made by root and handed to the user, as an administrator delegates one
/// (systemd's `Delegate=yes` on cgroup v2); removed (with anything left below it) on drop. On
/// a v1 (or hybrid) host: one directory in every hierarchy, chowned. On a cgroup v2-only host:
/// the directory and its cgroup.procs, cgroup.subtree_control and cgroup.threads, plus a leaf
/// `runtime` where the user's commands start (`in_delegated`): a process moves between cgroups
/// only with write access to their common ancestor's cgroup.procs, so the runtime must run
/// inside the subtree to move the container's init into it.
struct Delegated {
    name: String,
    dirs: Vec<PathBuf>,
    /// cgroup v2: the leaf the user's commands run in.
    leaf: Option<PathBuf>,
}

fn delegate(name: &str) -> Delegated {
    let u = user();
    let own = |p: &Path| std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid)).unwrap();
    let v2_root = Path::new("/sys/fs/cgroup");
    if v2_root.join("cgroup.controllers").exists() {
        let dir = v2_root.join(name);
        fs::create_dir(&dir).unwrap();
        for file in ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
            own(&dir.join(file));
        }
        own(&dir);
        let leaf = dir.join("runtime");
        fs::create_dir(&leaf).unwrap();
        own(&leaf.join("cgroup.procs"));
        own(&leaf);
        return Delegated {
            name: name.to_string(),
            dirs: vec![dir],
            leaf: Some(leaf),
        };
    }
    let mut dirs = Vec::new();
    for entry in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let mount = entry.path();
        if !mount.join("cgroup.procs").exists() {
            continue;
        }
        let dir = mount.join(name);
        fs::create_dir(&dir).unwrap();
        if mount.ends_with("cpuset") {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                fs::write(dir.join(file), fs::read(mount.join(file)).unwrap()).unwrap();
            }
        }
        own(&dir);
        for file in fs::read_dir(&dir).unwrap().flatten() {
            let _ = std::os::unix::fs::chown(file.path(), Some(u.uid), Some(u.gid));
        }
        dirs.push(dir);
    }
    Delegated {
        name: name.to_string(),
        dirs,
        leaf: None,
    }
}

impl Delegated {
    /// `cmd` (the user's runtime command), started in the delegated leaf on cgroup v2: root
    /// moves the shell there, which then execs the command.
    fn in_delegated(&self, cmd: Command) -> Command {
        let Some(leaf) = &self.leaf else {
            return cmd;
        };
        let mut wrapped = Command::new("sh");
        wrapped
            .arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(leaf)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        wrapped
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for dir in &self.dirs {
            if let Ok(children) = fs::read_dir(dir) {
                for c in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = fs::remove_dir(c.path());
                }
            }
            let _ = fs::remove_dir(dir);
        }
    }
}

container_test! {
    fn rootless_delegated_cgroup_takes_a_memory_limit(f) {
        make_rootless(&mut f);
        let deleg = delegate(&format!("nook-deleg-{}", std::process::id()));
        let v2 = deleg.leaf.is_some();
        let path = format!("/{}/{}", deleg.name, f.id);
        f.config["linux"]["cgroupsPath"] = json!(path);
        f.config["linux"]["resources"] = json!({"memory": {"limit": 33554432}});
        f.set_args(&["sleep", "100"]);
        f.write_config();
        f.remember(&f.id);
        let bundle = f.bundle();
        let user = |args: &[&str]| f.exec(deleg.in_delegated(user_cmd(&f, true, args)));
        user(&["create", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        let (memory, limit_file, cgroup_line) = if v2 {
            let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
            (dir, "memory.max", format!("0::{path}"))
        } else {
            let dir = Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/'));
            (dir, "memory.limit_in_bytes", format!(":memory:{path}"))
        };
        let limit = fs::read_to_string(memory.join(limit_file)).unwrap();
        assert_eq!(limit.trim(), "33554432");
        let procs = fs::read_to_string(memory.join("cgroup.procs")).unwrap();
        assert!(words(&procs).contains(&pid.to_string()), "{procs}");
        user(&["start", &f.id]).ok();
        // An exec'd process joins the same cgroup.
        let out = user(&["exec", &f.id, "cat", "/proc/self/cgroup"]).ok();
        assert!(
            out.stdout.lines().any(|l| l.ends_with(&cgroup_line)),
            "want a line ending {cgroup_line}: {out}"
        );
        // The delegated freezer pauses and resumes it.
        user(&["pause", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "paused");
        user(&["resume", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "running");
        user(&["delete", "--force", &f.id]).ok();
        assert!(!memory.exists(), "delete left {}", memory.display());
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_limit_without_a_cgroup_is_refused_cleanly(f) {
        make_rootless(&mut f);
        f.config["linux"]["resources"] = json!({"memory": {"limit": 33554432}});
        f.set_args(&["true"]);
        let out = run_as_user(&f).failed();
        // runc: "cannot set memory limit: container could not join or create cgroup".
        assert!(out.stderr.contains("memory"), "{out}");
        if is_nook() {
            assert!(out.stderr.contains("linux.resources.memory"), "{out}");
        }
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_runtime_binary_cannot_be_written_through_proc_pid_exe(f) {
        // CVE-2019-5736 for a rootless user, whose runtime binary is often their own file:
        // `exec` of a `#!/proc/self/exe` script makes the kernel run the runtime's image inside
        // the container; a watcher there (container root, CAP_SYS_PTRACE in the user
        // namespace) holds that process's exe and later reopens it for writing. The runtime's
        // copy below is owned by the user, so only the runtime's own defence (a sealed memfd
        // when it cannot mount) keeps it intact.
        use crate::security::{copy_shared_libraries, runtime_copy, wait_for_file, EXE_WATCHER};
        let original = runtime_copy(&mut f);
        copy_shared_libraries(&f.runtime, &f.rootfs());
        fs::write(f.rootfs().join("evil"), "#!/proc/self/exe\n").unwrap();
        fs::set_permissions(f.rootfs().join("evil"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        make_rootless(&mut f);
        for set in ["bounding", "effective", "permitted"] {
            f.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
        f.set_args(&["sh", "-c", EXE_WATCHER, "watcher", "/proc/self/exe*"]);
        f.write_config();
        f.remember(&f.id);
        let bundle = f.bundle();
        as_user(&f, &["create", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        as_user(&f, &["start", &f.id]).ok();
        let found = f.rootfs().join("found");
        for _ in 0..200 {
            // Exits non-zero: the runtime, run with `/evil` as its argument, refuses it.
            let _ = as_user(&f, &["exec", &f.id, "/evil"]);
            if found.exists() {
                break;
            }
        }
        let found = wait_for_file(&found, "the watcher never caught the re-executed runtime");
        assert!(found.starts_with("held"), "{found}");
        fs::write(f.rootfs().join("go"), "").unwrap();
        let result = wait_for_file(&f.rootfs().join("result"), "the watcher's write attempt");
        assert!(fs::read(&f.runtime).unwrap() == original, "binary changed ({result})");
        assert!(result.starts_with("refused"), "{result}");
        as_user(&f, &["delete", "--force", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn root_in_a_user_namespace_is_rootless_too(f) {
        // runc's auto rule: euid 0 in a user namespace that does not map the host's ids is
        // rootless as well, so the cgroup it cannot make is skipped. Here the user runs the
        // runtime as root of its own namespace (`unshare --user --map-root-user`), where the
        // container's single mapping names that namespace's id 0.
        make_rootless(&mut f);
        f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
        f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
        f.set_sh("id -u; cat /proc/self/uid_map");
        f.write_config();
        f.remember(&f.id);
        let u = user();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string()])
            .args(["--init-groups", "unshare", "--user", "--map-root-user", "--mount"])
            .arg(&f.runtime)
            .arg("--root")
            .arg(f.root())
            .args(["run", "--bundle", f.bundle().to_str().unwrap(), &f.id]);
        let out = f.exec(cmd).ok();
        assert_eq!(words(&out.stdout), ["0", "0 0 1"], "{out}");
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn rootless_cgroups_path_not_delegated_is_refused(f) {
        // runc's rule: a cgroupsPath the user cannot make is an error even without limits
        // (only the default path may be skipped).
        make_rootless(&mut f);
        f.config["linux"]["cgroupsPath"] = json!(format!("/{}-not-delegated/c", f.id));
        f.set_args(&["true"]);
        let out = run_as_user(&f).failed();
        assert!(out.stderr.to_lowercase().contains("permission denied"), "{out}");
        assert_nothing_left(&f, &f.id);
    }
}

/// The runtime as rootless podman runs it: as root of a user namespace of the user's own
/// (`unshare --user --map-root-user`, a mount namespace too), with the user's XDG_RUNTIME_DIR
/// `xdg` and USER set to the user's name; `--root` the fixture's state dir unless `xdg` is
/// meant to hold it. The config keeps no user namespace of its own (podman's does not).
fn userns_root_cmd(f: &Fixture, xdg: &Path, root: bool, args: &[&str]) -> Command {
    let u = user();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string()])
        .args([
            "--init-groups",
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
        ])
        .arg(&f.runtime);
    if root {
        cmd.arg("--root").arg(f.root());
    }
    cmd.args(args).env("XDG_RUNTIME_DIR", xdg).env("USER", USER);
    cmd
}

/// `make_rootless`, less the config's own user namespace (the runtime is already in one), and
/// an XDG_RUNTIME_DIR owned by the user.
fn make_userns_root(f: &mut Fixture) -> PathBuf {
    make_rootless(f);
    let linux = f.config["linux"].as_object_mut().unwrap();
    linux.remove("uidMappings");
    linux.remove("gidMappings");
    linux["namespaces"] =
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    let xdg = f.dir.path().join("xdg");
    fs::create_dir(&xdg).unwrap();
    let u = user();
    std::os::unix::fs::chown(&xdg, Some(u.uid), Some(u.gid)).unwrap();
    xdg
}

container_test! {
    fn root_in_a_user_namespace_keeps_state_in_xdg_runtime_dir(f) {
        // Rootless podman's runtime is root in the user's namespace, with XDG_RUNTIME_DIR set
        // and no --root: runc's rule keeps state in $XDG_RUNTIME_DIR/<name> there too (unless
        // USER is root); /run/<name> is not the user's to write.
        let xdg = make_userns_root(&mut f);
        f.set_args(&["sleep", "100"]);
        f.write_config();
        let bundle = f.bundle();
        let create = userns_root_cmd(&f, &xdg, false, &["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
        f.exec(create).ok();
        let name = if is_runc() { "runc" } else { "nook" };
        let state = xdg.join(name).join(&f.id);
        let there = state.exists();
        f.exec(userns_root_cmd(&f, &xdg, false, &["delete", "--force", &f.id])).ok();
        assert!(there, "no state at {}", state.display());
        assert!(!state.exists(), "delete left {}", state.display());
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn root_in_a_user_namespace_gets_its_terminal_through_the_console_socket(f) {
        // Rootless podman's tty containers: the runtime, root of the user's namespace, first
        // tries the cgroup it cannot make and then goes on rootless. A console socket takes
        // one connection (conmon's removes its path once connected; recvtty stops listening):
        // the second try must not connect again.
        use crate::tty::Receiver;
        let xdg = make_userns_root(&mut f);
        f.config["process"]["terminal"] = json!(true);
        f.set_sh("tty; echo ok");
        f.write_config();
        f.remember(&f.id);
        let receiver = Receiver::start(&f, "console");
        fs::set_permissions(receiver.socket(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let bundle = f.bundle();
        let create = userns_root_cmd(&f, &xdg, true, &[
            "create", "--bundle", bundle.to_str().unwrap(), "--console-socket", receiver.socket(), &f.id,
        ]);
        f.exec(create).ok();
        f.exec(userns_root_cmd(&f, &xdg, true, &["start", &f.id])).ok();
        let out = receiver.output();
        assert!(out.contains("/dev/pts/") && out.contains("ok"), "{out:?}");
        f.wait_status(&f.id, "stopped");
        f.exec(userns_root_cmd(&f, &xdg, true, &["delete", &f.id])).ok();
        assert_nothing_left(&f, &f.id);
    }
}
