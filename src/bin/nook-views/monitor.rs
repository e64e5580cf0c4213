//! `monitor`: a read-only web page of the containers under `--root`: the `top` table, live,
//! a CPU and memory chart per container over the last `--history`, and each one's config
//! summary. One thread reads the statistics every `--interval` (the same reading as `top`
//! and `events --stats`); a small HTTP/1.0 server of our own answers GET on four paths, each
//! connection on its own short-lived thread with read and write timeouts. Nothing here can act
//! on a container: no path takes a request body, and any method but GET or HEAD is refused.
//!
//! Paths (also documented in the README):
//! - `/`: the page (self-contained: inline script and SVG, no external resource).
//! - `/api/containers`: the snapshot `top --format json` prints.
//! - `/api/history`: per container, the sampled `time`, `cpu_percent`, `memory_usage` series.
//! - `/api/config?id=ID`: the config summary of one container (bundle, root, process without
//!   its environment, namespaces, hostname, cgroups path, limits, mount count).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};
use nook::logging::Level;
use serde_json::{json, Value};

use crate::usage::{Sampler, Snapshot};
use crate::MonitorArgs;

const PAGE: &str = include_str!("monitor.html");
/// Connections served at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 32;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the reader thread leaves for the connections.
#[derive(Default)]
struct Shared {
    /// The latest snapshot, as served.
    containers: String,
    history: HashMap<String, Series>,
}

#[derive(Default)]
struct Series {
    time: VecDeque<f64>,
    cpu: VecDeque<Option<f64>>,
    memory: VecDeque<Option<u64>>,
}

pub fn run(root: &Path, args: &MonitorArgs) -> Result<u8> {
    let interval = crate::interval("--interval", &args.interval)?;
    let history = crate::interval("--history", &args.history)?;
    let keep = (history.as_secs_f64() / interval.as_secs_f64())
        .ceil()
        .max(2.0) as usize;
    let listener =
        TcpListener::bind(args.listen).map_err(|e| anyhow!("--listen {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let loopback = addr.ip().is_loopback();
    if loopback {
        nook::logging::log(
            Level::Info,
            &format!("monitor: serving http://{addr}/ (read-only, loopback only)"),
        );
    } else {
        nook::logging::log(
            Level::Warn,
            &format!(
                "monitor: serving http://{addr}/ on an address that is not loopback: anyone who \
                 can reach it sees every container's usage and configuration (read-only)"
            ),
        );
    }
    let shared = Arc::new(Mutex::new(Shared::default()));
    // The first reading before the first request, so the page never starts empty.
    let mut sampler = Sampler::default();
    record(&shared, sampler.sample(root), keep);
    {
        let shared = Arc::clone(&shared);
        let root = root.to_path_buf();
        std::thread::spawn(move || loop {
            std::thread::sleep(interval);
            record(&shared, sampler.sample(&root), keep);
        });
    }
    let active = Arc::new(AtomicUsize::new(0));
    let page = PAGE
        .replace("__INTERVAL_MS__", &interval.as_millis().to_string())
        .replace("__HISTORY_S__", &history.as_secs().max(1).to_string());
    let page: Arc<str> = page.into();
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closes the connection
        }
        let (shared, active, page) = (Arc::clone(&shared), Arc::clone(&active), Arc::clone(&page));
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            let _ = serve(stream, &root, &shared, &page, loopback.then_some(addr));
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(0)
}

fn record(shared: &Mutex<Shared>, snap: Result<Snapshot>, keep: usize) {
    let snap = match snap {
        Ok(s) => s,
        Err(e) => {
            nook::logging::log(Level::Warn, &format!("monitor: read containers: {e:#}"));
            return;
        }
    };
    let json = match snap.to_json() {
        Ok(j) => j,
        Err(e) => {
            nook::logging::log(Level::Warn, &format!("monitor: {e:#}"));
            return;
        }
    };
    let Ok(mut shared) = shared.lock() else {
        return;
    };
    shared.containers = json;
    shared
        .history
        .retain(|id, _| snap.containers.iter().any(|r| &r.id == id));
    for row in &snap.containers {
        let s = shared.history.entry(row.id.clone()).or_default();
        s.time.push_back(snap.time);
        s.cpu.push_back(row.cpu_percent);
        s.memory.push_back(row.memory_usage);
        while s.time.len() > keep {
            s.time.pop_front();
            s.cpu.pop_front();
            s.memory.pop_front();
        }
    }
}

struct Response {
    status: &'static str,
    content_type: &'static str,
    body: String,
}

fn json_response(body: String) -> Response {
    Response {
        status: "200 OK",
        content_type: "application/json",
        body,
    }
}

fn error(status: &'static str) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: format!("{status}\n"),
    }
}

fn serve(
    mut stream: TcpStream,
    root: &Path,
    shared: &Mutex<Shared>,
    page: &str,
    loopback: Option<SocketAddr>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&mut stream)? else {
        return Ok(());
    };
    let request = parse_head(&head);
    let head_only = request.as_ref().is_some_and(|r| r.method == "HEAD");
    let response = match request {
        None => error("400 Bad Request"),
        Some(r) if r.method != "GET" && r.method != "HEAD" => error("405 Method Not Allowed"),
        // Bound to loopback, answer only requests addressed to loopback, so that a web page
        // that rebinds its own name to 127.0.0.1 cannot read this one.
        Some(r) if loopback.is_some() && !r.host.as_deref().is_some_and(host_is_loopback) => {
            error("403 Forbidden")
        }
        Some(r) => route(&r.target, root, shared, page),
    };
    let mut out = format!(
        "HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; \
         script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    if response.status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    if !head_only {
        out.push_str(&response.body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

/// The request line and headers, up to the blank line (8 KiB at most); None if the peer
/// closed first.
fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    target: String,
    host: Option<String>,
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    if !first.next()?.starts_with("HTTP/") || !target.starts_with('/') {
        return None;
    }
    let host = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_string());
    Some(Request {
        method,
        target,
        host,
    })
}

/// `localhost`, `127.0.0.1`, `[::1]`, any of them with a port.
fn host_is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn route(target: &str, root: &Path, shared: &Mutex<Shared>, page: &str) -> Response {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/" | "/index.html" => Response {
            status: "200 OK",
            content_type: "text/html; charset=utf-8",
            body: page.to_string(),
        },
        "/api/containers" => match shared.lock() {
            Ok(s) => json_response(s.containers.clone()),
            Err(_) => error("500 Internal Server Error"),
        },
        "/api/history" => match shared.lock() {
            Ok(s) => json_response(history_json(&s.history).to_string()),
            Err(_) => error("500 Internal Server Error"),
        },
        "/api/config" => {
            let id = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("id="))
                .unwrap_or("");
            match config_summary(root, id) {
                Some(v) => json_response(v.to_string()),
                None => error("404 Not Found"),
            }
        }
        _ => error("404 Not Found"),
    }
}

fn history_json(history: &HashMap<String, Series>) -> Value {
    let map: serde_json::Map<String, Value> = history
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                json!({"time": s.time, "cpu_percent": s.cpu, "memory_usage": s.memory}),
            )
        })
        .collect();
    Value::Object(map)
}

/// What the page shows of a container's config.json; not its environment, which may hold
/// secrets. None for an id that is not a container here.
fn config_summary(root: &Path, id: &str) -> Option<Value> {
    nook::id::validate(id).ok()?;
    let (record, _) = nook::container::load(root, id).ok()?;
    let path: PathBuf = record.bundle.join("config.json");
    let config: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Some(summarize(id, &record.bundle, &config))
}

fn summarize(id: &str, bundle: &Path, c: &Value) -> Value {
    let at = |p: &str| c.pointer(p).cloned().unwrap_or(Value::Null);
    let resources = c.pointer("/linux/resources");
    let limits: serde_json::Map<String, Value> = ["memory", "cpu", "pids", "blockIO"]
        .iter()
        .filter_map(|k| Some((k.to_string(), resources?.get(*k)?.clone())))
        .collect();
    json!({
        "id": id,
        "bundle": bundle,
        "root": at("/root"),
        "process": {
            "args": at("/process/args"),
            "cwd": at("/process/cwd"),
            "user": at("/process/user"),
            "terminal": at("/process/terminal"),
        },
        "hostname": at("/hostname"),
        "namespaces": at("/linux/namespaces"),
        "cgroupsPath": at("/linux/cgroupsPath"),
        "limits": limits,
        "mounts": c.pointer("/mounts").and_then(Value::as_array).map_or(0, Vec::len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_and_hosts_judged() {
        let r = parse_head("GET /api/config?id=a HTTP/1.1\r\nHost: 127.0.0.1:7370\r\nX: y\r\n\r\n")
            .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/api/config?id=a");
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:7370"));
        assert!(parse_head("GET nothing HTTP/1.1\r\n\r\n").is_none());
        assert!(parse_head("garbage\r\n\r\n").is_none());
        for ok in ["localhost:7370", "127.0.0.1", "[::1]:80", "LOCALHOST"] {
            assert!(host_is_loopback(ok), "{ok}");
        }
        for bad in ["evil.example:7370", "10.0.0.1:7370", "", "[::2]"] {
            assert!(!host_is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn the_summary_leaves_the_environment_out() {
        let config = json!({
            "root": {"path": "rootfs", "readonly": true},
            "process": {"args": ["sh"], "env": ["SECRET=1"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "hostname": "h",
            "mounts": [{}, {}],
            "linux": {"namespaces": [{"type": "pid"}], "resources": {"memory": {"limit": 1024}, "devices": []}}
        });
        let s = summarize("c", Path::new("/b"), &config);
        assert!(!s.to_string().contains("SECRET"));
        assert_eq!(s["limits"]["memory"]["limit"], 1024);
        assert!(s["limits"].get("devices").is_none());
        assert_eq!(s["mounts"], 2);
        assert_eq!(s["namespaces"][0]["type"], "pid");
        assert_eq!(s["process"]["args"][0], "sh");
    }

    #[test]
    fn history_keeps_the_last_samples_of_listed_containers() {
        let shared = Mutex::new(Shared::default());
        let snap = |t: f64, ids: &[&str]| -> Result<Snapshot> {
            let record = nook::state::Record::default();
            Ok(Snapshot {
                time: t,
                containers: ids
                    .iter()
                    .map(|id| {
                        let mut r = super::super::usage::row(
                            &record,
                            nook::state::Status::Running,
                            None,
                            t,
                        );
                        r.id = id.to_string();
                        r
                    })
                    .collect(),
            })
        };
        for t in 0..5 {
            record(&shared, snap(t as f64, &["a", "b"]), 3);
        }
        record(&shared, snap(5.0, &["a"]), 3);
        let s = shared.lock().unwrap();
        assert_eq!(s.history.len(), 1);
        assert_eq!(Vec::from(s.history["a"].time.clone()), vec![3.0, 4.0, 5.0]);
        assert!(s.containers.contains("\"id\":\"a\""));
    }
}
