//! `nook top` and `nook monitor`: nook's own views of the containers under `--root` (runc has
//! neither verb, so against another runtime each test records a skip). Both read the statistics
//! `events --stats` reads; these tests hold them to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{self, container_test, is_nook, Fixture};

/// False (after recording the skip) when the runtime under test is not nook.
fn nook_only(test: &str) -> bool {
    if !is_nook() {
        support::skip(
            test,
            "nook top/monitor",
            "nook's own verbs; the runtime under test has none",
        );
        return false;
    }
    true
}

/// A running container with limits, `sleep` as its init.
fn start_sleeper(f: &mut Fixture, id: &str) {
    f.config["linux"]["resources"] =
        json!({"memory": {"limit": 33_554_432}, "pids": {"limit": 50}});
    f.set_args(&["sleep", "100"]);
    f.create_with(id, &[]).ok();
    f.rt(&["start", id]).ok();
    f.wait_status(id, "running");
}

fn events_stats(f: &Fixture, id: &str) -> Value {
    let out = f.rt(&["events", "--stats", id]).ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    v["data"].clone()
}

fn row<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers array: {doc}"))
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row for {id}: {doc}"))
}

fn sum_ifaces(stats: &Value, key: &str) -> u64 {
    stats["network_interfaces"]
        .as_array()
        .map(|ifs| {
            ifs.iter()
                .filter(|i| i["Name"] != "lo")
                .map(|i| i[key].as_u64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

/// A row (from `top --format json` or /api/containers) against an `events --stats` read after
/// it: the same limits and pids, the same members, and counters that only grew in between.
fn assert_row_agrees(row: &Value, events: &Value, state: &Value) {
    let stats = &row["stats"];
    assert_eq!(row["status"], "running", "{row}");
    assert_eq!(row["pid"], state["pid"], "{row}");
    assert_eq!(row["memory_limit"], 33_554_432, "{row}");
    assert_eq!(events["memory"]["usage"]["limit"], 33_554_432, "{events}");
    assert_eq!(
        row["pids_limit"], events["pids"]["limit"],
        "{row}\n{events}"
    );
    assert_eq!(row["pids"], events["pids"]["current"], "{row}\n{events}");
    assert_eq!(row["pids"], stats["pids"]["current"], "{row}");
    assert_eq!(
        row["memory_usage"], stats["memory"]["usage"]["usage"],
        "{row}"
    );
    assert_eq!(row["cpu_total_ns"], stats["cpu"]["usage"]["total"], "{row}");
    // The same document events prints: every member events has, in the same place.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(stats), keys(events), "{stats}\n{events}");
    assert_eq!(keys(&stats["memory"]), keys(&events["memory"]));
    assert_eq!(
        stats["memory"]["usage"]["limit"],
        events["memory"]["usage"]["limit"]
    );
    assert_eq!(stats["cpuset"], events["cpuset"]);
    let cpu = |v: &Value| v["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
    assert!(cpu(stats) <= cpu(events), "{stats}\n{events}");
    assert!(cpu(events) > 0, "{events}");
    let net: Vec<&str> = events["network_interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Name"].as_str().unwrap())
        .collect();
    let row_net: Vec<&str> = stats["network_interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Name"].as_str().unwrap())
        .collect();
    assert_eq!(net, row_net);
    assert_eq!(row["net_rx_bytes"], sum_ifaces(stats, "RxBytes"), "{row}");
    assert!(sum_ifaces(stats, "RxBytes") <= sum_ifaces(events, "RxBytes"));
    let mem = |v: &Value| v["memory"]["usage"]["usage"].as_u64().unwrap();
    assert!(mem(stats) > 0 && mem(events) > 0);
}

container_test! {
    fn top_once_json_agrees_with_events_stats(f) {
        if !nook_only(&f.id) {
            return;
        }
        let id = f.id.clone();
        start_sleeper(&mut f, &id);
        let out = f.rt(&["top", "--once", "--format", "json", "--interval", "200ms"]).ok();
        let events = events_stats(&f, &id);
        let state = f.state(&id);
        let doc: Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("top output is not JSON ({e}): {out}"));
        assert!(doc["time"].as_f64().unwrap() > 1.0e9, "{doc}");
        assert_row_agrees(row(&doc, &id), &events, &state);
        // Two readings 200 ms apart: a sleeping container has a CPU % near zero, not null.
        let cpu = row(&doc, &id)["cpu_percent"].as_f64().unwrap();
        assert!((0.0..20.0).contains(&cpu), "{doc}");
        f.rt(&["delete", "--force", &id]).ok();
        support::assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn top_without_a_terminal_prints_one_table(f) {
        if !nook_only(&f.id) {
            return;
        }
        let running = f.id.clone();
        start_sleeper(&mut f, &running);
        let created = f.another_id("created");
        f.create_with(&created, &[]).ok();
        // No --once: stdin and stdout are files here, so one snapshot is all top prints.
        let out = f.rt(&["top", "--sort", "id", "--interval", "100ms"]).ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        for col in ["ID", "STATUS", "PID", "CPU %", "MEM USAGE / LIMIT", "PIDS", "BLOCK I/O", "NET I/O", "UPTIME"] {
            assert!(lines[0].contains(col), "no {col}: {out}");
        }
        // Sorted by id: "<id>" before "<id>-created".
        assert!(lines[1].starts_with(&format!("{running} ")), "{out}");
        assert!(lines[1].contains(" running "), "{out}");
        assert!(lines[1].contains("/ 32.0MiB"), "{out}");
        assert!(lines[1].contains("1 / 50"), "{out}");
        assert!(lines[2].starts_with(&format!("{created} ")), "{out}");
        assert!(lines[2].contains(" created "), "{out}");
        let json = f.rt(&["top", "--format", "json", "--sort", "id", "--interval", "100ms"]).ok();
        let doc: Value = serde_json::from_str(json.stdout.trim()).unwrap();
        let ids: Vec<&str> = doc["containers"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [running.as_str(), created.as_str()], "{doc}");
        f.rt(&["delete", "--force", &created]).ok();
        f.rt(&["delete", "--force", &running]).ok();
        let empty = f.rt(&["top", "--once", "--format", "json", "--interval", "10ms"]).ok();
        let doc: Value = serde_json::from_str(empty.stdout.trim()).unwrap();
        assert_eq!(doc["containers"], json!([]), "{doc}");
    }
}

container_test! {
    fn top_shows_a_busy_container_busy(f) {
        if !nook_only(&f.id) {
            return;
        }
        f.set_sh("while :; do :; done");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "running");
        let out = f.rt(&["top", "--once", "--format", "json", "--interval", "500ms"]).ok();
        f.rt(&["delete", "--force", &f.id]).ok();
        let doc: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        let cpu = row(&doc, &f.id)["cpu_percent"].as_f64().unwrap();
        // A shell spinning on one of the two cores: near 100, well above 20 even when shared.
        assert!(cpu > 20.0, "{doc}");
    }
}

container_test! {
    fn top_and_monitor_refuse_bad_flags(f) {
        if !nook_only(&f.id) {
            return;
        }
        let out = f.rt(&["top", "--interval", "soon"]).failed();
        assert!(out.stderr.contains("--interval"), "{out}");
        let out = f.rt(&["top", "--format", "yaml"]).failed();
        assert!(out.stderr.contains("yaml"), "{out}");
        let out = f.rt(&["monitor", "--listen", "nowhere"]).failed();
        assert!(out.stderr.contains("nowhere"), "{out}");
        // An address this host does not have: the bind fails, naming the flag.
        let out = f.rt(&["monitor", "--listen", "192.0.2.1:7370"]).failed();
        assert!(out.stderr.contains("--listen 192.0.2.1:7370"), "{out}");
    }
}

/// A running `nook monitor`, killed when dropped.
struct Monitor {
    child: Child,
    addr: String,
    first_line: String,
}

impl Monitor {
    fn start(f: &Fixture, listen: &str) -> Monitor {
        let mut child = Command::new(&f.runtime)
            .arg("--root")
            .arg(f.root())
            .args(["monitor", "--listen", listen, "--interval", "200ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first_line = String::new();
        // The monitor logs its address first; a bind failure ends it (EOF) instead.
        stderr.read_line(&mut first_line).unwrap();
        let addr = first_line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in the first log line: {first_line:?}"))
            .to_string();
        Monitor {
            child,
            addr,
            first_line,
        }
    }

    fn request(&self, method: &str, path: &str, host: &str) -> (u16, String) {
        request(&self.addr, method, path, host)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &self.addr.clone())
    }
}

/// One HTTP request to `addr`; the status code and body.
fn request(addr: &str, method: &str, path: &str, host: &str) -> (u16, String) {
    {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let code = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

container_test! {
    fn monitor_serves_what_events_stats_reads(f) {
        if !nook_only(&f.id) {
            return;
        }
        let id = f.id.clone();
        start_sleeper(&mut f, &id);
        let m = Monitor::start(&f, "127.0.0.1:0");
        assert!(m.first_line.contains("loopback only"), "{}", m.first_line);
        assert!(!m.first_line.contains("warning"), "{}", m.first_line);
        // Wait for a reading that has a CPU % (the second one).
        let deadline = Instant::now() + Duration::from_secs(10);
        let doc = loop {
            let (code, body) = m.get("/api/containers");
            assert_eq!(code, 200, "{body}");
            let doc: Value = serde_json::from_str(&body).unwrap();
            if doc["containers"].as_array().is_some_and(|rows| rows.iter().any(|r| r["id"] == id.as_str() && r["cpu_percent"].is_number())) {
                break doc;
            }
            assert!(Instant::now() < deadline, "no reading with a CPU %: {doc}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let events = events_stats(&f, &id);
        assert_row_agrees(row(&doc, &id), &events, &f.state(&id));

        let (code, page) = m.get("/");
        assert_eq!(code, 200);
        assert!(page.contains("<title>nook monitor</title>") && page.contains("/api/containers"), "{page}");
        // Self-contained: no script, style, image or font from anywhere else (the one URL in it is
        // the SVG namespace).
        for outside in ["src=", "href=", "<link", "@import", "url(", "https://"] {
            assert!(!page.contains(outside), "the page names something outside ({outside})");
        }
        assert_eq!(
            page.matches("http://").count(),
            page.matches("http://www.w3.org/2000/svg").count()
        );
        let (code, hist) = m.get("/api/history");
        assert_eq!(code, 200);
        let hist: Value = serde_json::from_str(&hist).unwrap();
        assert!(hist[&id]["time"].as_array().unwrap().len() >= 2, "{hist}");
        let (code, cfg) = m.get(&format!("/api/config?id={id}"));
        assert_eq!(code, 200, "{cfg}");
        let cfg: Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(cfg["bundle"], f.bundle().to_str().unwrap(), "{cfg}");
        assert_eq!(cfg["limits"]["memory"]["limit"], 33_554_432, "{cfg}");
        assert!(cfg["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "pid"), "{cfg}");
        assert!(cfg["process"].get("env").is_none(), "{cfg}");
        assert_eq!(m.get("/api/config?id=no-such").0, 404);
        assert_eq!(m.get("/api/config?id=../x").0, 404);
        assert_eq!(m.get("/nothing").0, 404);
        // Read-only: nothing but GET and HEAD; and only for requests addressed to loopback.
        assert_eq!(m.request("POST", "/api/containers", &m.addr).0, 405);
        assert_eq!(m.request("DELETE", &format!("/api/config?id={id}"), &m.addr).0, 405);
        assert_eq!(m.request("GET", "/api/containers", "rebound.example:7370").0, 403);
        let (code, body) = m.request("HEAD", "/", "localhost");
        assert_eq!((code, body.as_str()), (200, ""));
        drop(m);
        assert_eq!(f.state(&id)["status"], "running");
        f.rt(&["delete", "--force", &id]).ok();
        support::assert_nothing_left(&f, &id);
    }
}

container_test! {
    fn monitor_warns_first_when_not_on_loopback(f) {
        if !nook_only(&f.id) {
            return;
        }
        let m = Monitor::start(&f, "0.0.0.0:0");
        assert!(m.first_line.contains("level=warning"), "{}", m.first_line);
        assert!(m.first_line.contains("not loopback"), "{}", m.first_line);
        // Any Host is answered then (the operator chose to expose it).
        let port = m.addr.rsplit(':').next().unwrap().to_string();
        let (code, body) = request(&format!("127.0.0.1:{port}"), "GET", "/api/containers", "example.org");
        assert_eq!(code, 200, "{body}");
    }
}
