//! `exec --cgroup`: which directories an exec'd process joins, over fake trees.

use std::fs;
use std::path::Path;

use nix::unistd::Pid;

use super::*;

fn procs(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("cgroup.procs"), "").unwrap();
}

fn joined(dir: &Path) -> String {
    fs::read_to_string(dir.join("cgroup.procs")).unwrap()
}

fn subs(args: &[&str]) -> Vec<SubCgroup> {
    args.iter().map(|a| SubCgroup::parse(a).unwrap()).collect()
}

#[test]
fn arguments_parse_into_controllers_and_a_relative_path() {
    let s = SubCgroup::parse("cpu,cpuacct:/a/b").unwrap();
    assert_eq!(s.controllers, ["cpu", "cpuacct"]);
    assert_eq!(s.path, Path::new("a/b"));
    let s = SubCgroup::parse("sub").unwrap();
    assert!(s.controllers.is_empty());
    assert_eq!(s.path, Path::new("sub"));
    assert_eq!(SubCgroup::parse("/").unwrap().path, Path::new(""));
    for bad in ["../up", "memory:a/../../x", ":x", "cpu,:x"] {
        let err = SubCgroup::parse(bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("exec --cgroup {bad:?}")), "{err}");
    }
}

#[test]
fn v1_controller_forms_move_only_the_named_hierarchies() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for h in ["memory", "pids", "cpu,cpuacct", "unified"] {
        procs(&r.join(h).join("nook/c1"));
    }
    procs(&r.join("memory/nook/c1/m"));
    procs(&r.join("cpu,cpuacct/nook/c1/c"));
    let cg = Cgroup::with_root(r, Version::V1, None, "c1").unwrap();
    let exec = cg.for_exec(&subs(&["memory:m", "cpuacct:/c"])).unwrap();
    exec.add_process(Pid::from_raw(7)).unwrap();
    assert_eq!(joined(&r.join("memory/nook/c1/m")), "7");
    assert_eq!(joined(&r.join("cpu,cpuacct/nook/c1/c")), "7");
    assert_eq!(joined(&r.join("pids/nook/c1")), "7");
    assert_eq!(joined(&r.join("unified/nook/c1")), "7");
    assert_eq!(joined(&r.join("memory/nook/c1")), "");
}

#[test]
fn a_plain_path_moves_every_hierarchy_and_must_exist_in_each() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for h in ["memory", "pids", "unified"] {
        procs(&r.join(h).join("nook/c1/s"));
    }
    let cg = Cgroup::with_root(r, Version::V1, None, "c1").unwrap();
    cg.for_exec(&subs(&["s"]))
        .unwrap()
        .add_process(Pid::from_raw(9))
        .unwrap();
    for h in ["memory", "pids", "unified"] {
        assert_eq!(joined(&r.join(h).join("nook/c1/s")), "9", "{h}");
    }
    fs::remove_dir_all(r.join("pids/nook/c1/s")).unwrap();
    let err = cg.for_exec(&subs(&["s"])).err().unwrap().to_string();
    assert!(err.starts_with("exec --cgroup \"s\": "), "{err}");
    assert!(err.contains("pids/nook/c1/s does not exist"), "{err}");
    let err = cg.for_exec(&subs(&["rdma:s"])).err().unwrap().to_string();
    assert!(
        err.contains("no cgroup v1 hierarchy holds controller \"rdma\""),
        "{err}"
    );
}

#[test]
fn v2_takes_one_path_without_controllers() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    procs(&r.join("nook/c1/sub"));
    let cg = Cgroup::with_root(r, Version::V2, None, "c1").unwrap();
    let exec = cg.for_exec(&subs(&["/sub"])).unwrap();
    exec.add_process(Pid::from_raw(5)).unwrap();
    assert_eq!(joined(&r.join("nook/c1/sub")), "5");
    for (args, why) in [
        (&["memory:sub"][..], "without controllers"),
        (&["sub", "sub"][..], "must be the only --cgroup"),
        (&["nope"][..], "does not exist"),
    ] {
        let err = cg.for_exec(&subs(args)).err().unwrap().to_string();
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn processes_in_sub_cgroups_count_as_the_containers() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    procs(&r.join("nook/c1/sub/deeper"));
    fs::write(r.join("nook/c1/cgroup.procs"), "3\n").unwrap();
    fs::write(r.join("nook/c1/sub/cgroup.procs"), "5\n").unwrap();
    fs::write(r.join("nook/c1/sub/deeper/cgroup.procs"), "8\n").unwrap();
    let cg = Cgroup::with_root(r, Version::V2, None, "c1").unwrap();
    let mut pids: Vec<i32> = cg.pids().unwrap().iter().map(|p| p.as_raw()).collect();
    pids.sort();
    assert_eq!(pids, [3, 5, 8]);
}

#[test]
fn a_plain_path_stands_alone_and_controllers_are_named_once() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for h in ["memory", "pids"] {
        procs(&r.join(h).join("nook/c1/s"));
    }
    let cg = Cgroup::with_root(r, Version::V1, None, "c1").unwrap();
    let err = cg
        .for_exec(&subs(&["s", "memory:s"]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("exec --cgroup \"s\": a path without controllers"),
        "{err}"
    );
    let err = cg
        .for_exec(&subs(&["memory:s", "pids,memory:s"]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("controller \"memory\" is named more than once"),
        "{err}"
    );
    cg.for_exec(&subs(&["memory:s", "pids:s"])).unwrap();
}
