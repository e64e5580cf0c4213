//! The stats readers on temp trees laid out like the kernel's files, and the JSON they print.

use super::stats::*;

fn write(dir: &std::path::Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

#[test]
fn key_value_files() {
    let kv = key_values("usage_usec 120\nnr_periods 3\nbogus\nname=x 1\n");
    assert_eq!(kv.get("usage_usec"), Some(&120));
    assert_eq!(kv.get("nr_periods"), Some(&3));
    assert_eq!(kv.len(), 3);
    assert_eq!(number("max\n"), u64::MAX);
    assert_eq!(number("42\n"), 42);
}

#[test]
fn lists_blkio_io_stat_and_net_dev() {
    assert_eq!(cpu_list("0-2,5\n"), vec![0, 1, 2, 5]);
    assert_eq!(cpu_list("\n"), Vec::<u16>::new());
    let e = blkio_entries("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n8:16 7\n");
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].major, e[0].minor, e[0].op.as_str(), e[0].value),
        (8, 0, "Read", 4096)
    );
    assert_eq!((e[2].minor, e[2].op.as_str(), e[2].value), (16, "", 7));
    let io = io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
    assert_eq!(io.io_service_bytes_recursive.len(), 3);
    assert_eq!(io.io_serviced_recursive[1].op, "Write");
    assert_eq!(io.io_serviced_recursive[1].value, 2);
    let dev = "Inter-| Receive | Transmit\n face |bytes ...\n    lo:  100 2 0 0 0 0 0 0  300 4 0 1 0 0 0 0\n";
    let n = net_dev(dev);
    assert_eq!(n.len(), 1);
    assert_eq!(
        (
            n[0].name.as_str(),
            n[0].rx_bytes,
            n[0].tx_packets,
            n[0].tx_dropped
        ),
        ("lo", 100, 4, 1)
    );
    let json = serde_json::to_value(&n[0]).unwrap();
    assert_eq!(json["Name"], "lo");
    assert_eq!(json["RxBytes"], 100);
}

#[test]
fn v1_tree() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_path_buf();
    write(&d, "cpuacct.usage", "5000\n");
    write(&d, "cpuacct.usage_percpu", "3000 2000 \n");
    write(
        &d,
        "cpuacct.usage_all",
        "cpu user system\n0 3000 0\n1 0 2000\n",
    );
    write(&d, "cpuacct.stat", "user 2\nsystem 1\n");
    write(
        &d,
        "cpu.stat",
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    );
    write(&d, "cpuset.cpus", "0-1\n");
    write(&d, "cpuset.mems", "0\n");
    write(&d, "cpuset.sched_load_balance", "1\n");
    write(&d, "cpuset.sched_relax_domain_level", "-1\n");
    write(&d, "memory.usage_in_bytes", "4096\n");
    write(&d, "memory.limit_in_bytes", "8192\n");
    write(&d, "memory.kmem.usage_in_bytes", "512\n");
    write(&d, "memory.stat", "cache 0\nrss 4096\n");
    write(&d, "pids.current", "3\n");
    write(&d, "pids.max", "max\n");
    write(
        &d,
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 2\nTotal 2\n",
    );
    write(
        &d,
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 8192\nTotal 8192\n",
    );
    let dir = || Some(d.clone());
    let s = v1(&V1Dirs {
        cpuacct: dir(),
        cpu: dir(),
        cpuset: dir(),
        memory: dir(),
        pids: dir(),
        blkio: dir(),
        hugetlb: None,
    })
    .unwrap();
    assert_eq!(s.cpu.usage.total, 5000);
    assert_eq!(s.cpu.usage.percpu, vec![3000, 2000]);
    assert_eq!(s.cpu.usage.percpu_user, vec![3000, 0]);
    assert_eq!(s.cpu.usage.percpu_kernel, vec![0, 2000]);
    assert_eq!(s.cpu.usage.user, 20_000_000);
    assert_eq!(
        (s.cpuset.cpus.as_slice(), s.cpuset.sched_relax_domain_level),
        (&[0, 1][..], -1)
    );
    assert_eq!((s.memory.usage.usage, s.memory.usage.limit), (4096, 8192));
    assert_eq!(s.memory.kernel.usage, 512);
    assert_eq!((s.pids.current, s.pids.limit), (3, 0));
    assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 8192);

    // runc's Go structs: key order, and zero `omitempty` fields left out.
    let text = serde_json::to_string(&s).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = [
        "\"cpu\"",
        "\"cpuset\"",
        "\"memory\"",
        "\"pids\"",
        "\"blkio\"",
        "\"hugetlb\"",
        "\"intel_rdt\"",
        "\"network_interfaces\"",
    ]
    .into_iter()
    .collect();
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(json["cpu"]["throttling"], serde_json::json!({}));
    assert_eq!(json["pids"], serde_json::json!({"current": 3}));
    assert_eq!(
        json["memory"]["kernelTCP"],
        serde_json::json!({"limit": 0, "failcnt": 0})
    );
    assert!(json["memory"].get("cache").is_none());
    assert_eq!(json["network_interfaces"], serde_json::Value::Null);
    assert_eq!(json["intel_rdt"], serde_json::json!({}));
}

#[test]
fn v2_tree() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 3\n");
    write(d, "memory.current", "100\n");
    write(d, "memory.max", "1000\n");
    write(d, "memory.swap.current", "10\n");
    write(d, "memory.swap.max", "max\n");
    write(d, "memory.events", "max 4\noom 1\noom_kill 1\n");
    write(d, "memory.stat", "file 64\nanon 36\n");
    write(d, "pids.current", "2\n");
    write(d, "pids.max", "50\n");
    write(
        d,
        "io.stat",
        "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    let s = v2(d).unwrap();
    assert_eq!(s.cpu.usage.total, 7000);
    assert_eq!(s.cpu.throttling.throttled_time, 3000);
    assert_eq!(s.memory.usage.failcnt, 4);
    assert_eq!((s.memory.swap.usage, s.memory.swap.limit), (110, u64::MAX));
    assert_eq!(s.memory.cache, 64);
    assert_eq!((s.pids.current, s.pids.limit), (2, 50));
    assert_eq!(s.blkio.io_serviced_recursive.len(), 3);
    assert_eq!(oom_kills(d, true), 1);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["cpu"]["throttling"]["throttledPeriods"], 1);
}

#[test]
fn pressure_files_parse_into_some_and_full() {
    let p = pressure(
        "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n\
         full avg10=0.10 avg60=0.00 avg300=0.00 total=789\n",
    )
    .unwrap();
    assert_eq!(
        (p.some.avg10, p.some.avg60, p.some.total),
        (1.5, 0.25, 123456)
    );
    assert_eq!((p.full.avg10, p.full.total), (0.1, 789));
    // cpu.pressure before Linux 5.13: no full line, reported as zero.
    let p = pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n").unwrap();
    assert_eq!((p.some.total, p.full.total), (5, 0));
    assert_eq!(pressure(""), None);
    assert_eq!(pressure("garbage\n"), None);
}

#[test]
fn v2_reports_pressure_in_runcs_places() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let line = |n: u64| {
        format!("some avg10=2.00 avg60=1.00 avg300=0.50 total={n}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1\n")
    };
    write(d, "cpu.pressure", &line(10));
    write(d, "memory.pressure", &line(20));
    write(d, "io.pressure", &line(30));
    let json = serde_json::to_value(v2(d).unwrap()).unwrap();
    assert_eq!(json["cpu"]["psi"]["some"]["total"], 10);
    assert_eq!(json["cpu"]["psi"]["some"]["avg10"], 2.0);
    assert_eq!(json["cpu"]["psi"]["full"]["total"], 1);
    assert_eq!(json["memory"]["psi"]["some"]["total"], 20);
    assert_eq!(json["blkio"]["psi"]["some"]["avg300"], 0.5);
    // Without the files (no PSI in the kernel), no "psi" keys at all.
    let empty = tempfile::tempdir().unwrap();
    let json = serde_json::to_value(v2(empty.path()).unwrap()).unwrap();
    assert!(json["cpu"].get("psi").is_none(), "{json}");
    assert!(json["memory"].get("psi").is_none(), "{json}");
    assert!(json["blkio"].get("psi").is_none(), "{json}");
}
