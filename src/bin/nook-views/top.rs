//! `top`: a live table of the containers under `--root`, redrawn every `--interval` with plain
//! ANSI sequences (home, clear to end of line, alternate screen): one table needs no TUI crate.
//! Keys pick the sort column; `q` quits. Without a terminal on both ends, or with `--once`, it
//! prints one snapshot (a table or `--format json`) and exits.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use crate::usage::{bytes, duration, Row, Sampler};
use crate::{SortKey, TopArgs, TopFormat};

pub fn run(root: &Path, args: &TopArgs) -> Result<u8> {
    let interval = crate::interval("--interval", &args.interval)?;
    let interactive = !args.once
        && args.format == TopFormat::Table
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut sampler = Sampler::default();
    if !interactive {
        // Two readings `--interval` apart (at most one second), so CPU % has a value.
        sampler.sample(root)?;
        std::thread::sleep(interval.min(Duration::from_secs(1)));
        let mut snap = sampler.sample(root)?;
        sort(&mut snap.containers, args.sort, false);
        let mut out = std::io::stdout().lock();
        match args.format {
            TopFormat::Json => writeln!(out, "{}", snap.to_json()?)?,
            TopFormat::Table => write!(out, "{}", table(&snap.containers))?,
        }
        return Ok(0);
    }
    live(root, interval, args.sort, &mut sampler)
}

fn live(root: &Path, interval: Duration, mut key: SortKey, sampler: &mut Sampler) -> Result<u8> {
    let stdin = std::io::stdin();
    let _screen = Screen::enter(&stdin)?;
    let mut out = std::io::stdout().lock();
    let mut reverse = false;
    let mut snap = sampler.sample(root)?;
    let mut next = Instant::now() + interval;
    loop {
        sort(&mut snap.containers, key, reverse);
        let mut frame = String::from("\x1b[H");
        frame.push_str(&format!(
            "nook top - {} containers - sort: {}{} - keys: c cpu, m mem, p pids, i id, u uptime, b block, n net, r reverse, q quit\x1b[K\r\n\x1b[K\r\n",
            snap.containers.len(),
            key.name(),
            if reverse { " (reversed)" } else { "" },
        ));
        for line in table(&snap.containers).lines() {
            frame.push_str(line);
            frame.push_str("\x1b[K\r\n");
        }
        frame.push_str("\x1b[J");
        out.write_all(frame.as_bytes())?;
        out.flush()?;
        // Wait for a key or the next reading.
        let left = next.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        let ready = match poll(&mut fds, timeout) {
            Ok(n) => n > 0,
            Err(nix::errno::Errno::EINTR) => false,
            Err(e) => return Err(anyhow::anyhow!("poll stdin: {e}")),
        };
        if ready {
            let mut buf = [0u8; 32];
            let n = stdin.lock().read(&mut buf)?;
            if n == 0 {
                return Ok(0); // end of input
            }
            for &b in &buf[..n] {
                match b {
                    b'q' | b'Q' | 3 | 4 => return Ok(0), // q, ^C, ^D
                    b'r' => reverse = !reverse,
                    other => {
                        if let Some(k) = SortKey::from_key(other) {
                            key = k;
                        }
                    }
                }
            }
        }
        if Instant::now() >= next {
            snap = sampler.sample(root)?;
            next = Instant::now() + interval;
        }
    }
}

/// The terminal in cbreak mode on the alternate screen, restored when dropped.
struct Screen {
    saved: Termios,
}

impl Screen {
    fn enter(stdin: &std::io::Stdin) -> Result<Screen> {
        let saved = termios::tcgetattr(stdin.as_fd())
            .map_err(|e| anyhow::anyhow!("read the terminal's settings: {e}"))?;
        let mut raw = saved.clone();
        // Keys arrive one by one, unechoed; ^C arrives as a key (and quits) so the terminal is
        // always restored.
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
            .map_err(|e| anyhow::anyhow!("set the terminal to cbreak mode: {e}"))?;
        // Alternate screen, cursor hidden, no line wrap (long rows are cut at the edge).
        print!("\x1b[?1049h\x1b[?25l\x1b[?7l");
        Ok(Screen { saved })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        print!("\x1b[?7h\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

impl SortKey {
    fn from_key(b: u8) -> Option<SortKey> {
        Some(match b {
            b'c' => SortKey::Cpu,
            b'm' => SortKey::Mem,
            b'p' => SortKey::Pids,
            b'i' => SortKey::Id,
            b'u' => SortKey::Uptime,
            b'b' => SortKey::Block,
            b'n' => SortKey::Net,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SortKey::Cpu => "cpu",
            SortKey::Mem => "mem",
            SortKey::Pids => "pids",
            SortKey::Id => "id",
            SortKey::Uptime => "uptime",
            SortKey::Block => "block",
            SortKey::Net => "net",
        }
    }
}

/// Largest first for numbers, ids in order; `reverse` flips either. Ties go by id.
fn sort(rows: &mut [Row], key: SortKey, reverse: bool) {
    let num = |r: &Row| -> f64 {
        let sum = |a: Option<u64>, b: Option<u64>| (a.unwrap_or(0) + b.unwrap_or(0)) as f64;
        match key {
            SortKey::Cpu => r.cpu_percent.unwrap_or(-1.0),
            SortKey::Mem => r.memory_usage.map_or(-1.0, |m| m as f64),
            SortKey::Pids => r.pids.map_or(-1.0, |p| p as f64),
            SortKey::Uptime => r.uptime_seconds.map_or(-1.0, |u| u as f64),
            SortKey::Block => sum(r.block_read_bytes, r.block_write_bytes),
            SortKey::Net => sum(r.net_rx_bytes, r.net_tx_bytes),
            SortKey::Id => 0.0,
        }
    };
    rows.sort_by(|a, b| {
        let order = if key == SortKey::Id {
            a.id.cmp(&b.id)
        } else {
            num(b).total_cmp(&num(a)).then_with(|| a.id.cmp(&b.id))
        };
        if reverse {
            order.reverse()
        } else {
            order
        }
    });
}

const HEADER: [&str; 10] = [
    "ID",
    "STATUS",
    "PID",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "PIDS",
    "BLOCK I/O",
    "NET I/O",
    "UPTIME",
];

/// Columns padded to their widest cell, two spaces apart.
fn table(rows: &[Row]) -> String {
    let dash = || "-".to_string();
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let opt = |v: Option<u64>, f: fn(u64) -> String| v.map_or_else(dash, f);
            let pair = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (None, None) => dash(),
                (a, b) => format!("{} / {}", opt(a, bytes), opt(b, bytes)),
            };
            let limit = |v: Option<u64>| v.map_or_else(|| "max".to_string(), |n| n.to_string());
            [
                r.id.clone(),
                r.status.clone(),
                r.pid.to_string(),
                r.cpu_percent.map_or_else(dash, |c| format!("{c:.1}")),
                match r.memory_usage {
                    None => dash(),
                    Some(u) => format!(
                        "{} / {}",
                        bytes(u),
                        r.memory_limit.map_or_else(|| "max".into(), bytes)
                    ),
                },
                match (r.memory_usage, r.memory_limit) {
                    (Some(u), Some(l)) if l > 0 => format!("{:.1}", u as f64 / l as f64 * 100.0),
                    _ => dash(),
                },
                r.pids
                    .map_or_else(dash, |p| format!("{p} / {}", limit(r.pids_limit))),
                pair(r.block_read_bytes, r.block_write_bytes),
                pair(r.net_rx_bytes, r.net_tx_bytes),
                opt(r.uptime_seconds, duration),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(&HEADER);
    for row in &cells {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, cpu: Option<f64>, mem: Option<u64>) -> Row {
        Row {
            id: id.into(),
            status: "running".into(),
            pid: 1,
            bundle: "/b".into(),
            created: String::new(),
            uptime_seconds: Some(5),
            cpu_percent: cpu,
            cpu_total_ns: None,
            memory_usage: mem,
            memory_limit: Some(4 << 20),
            pids: Some(1),
            pids_limit: None,
            block_read_bytes: None,
            block_write_bytes: None,
            net_rx_bytes: Some(1),
            net_tx_bytes: Some(2048),
            stats_json: None,
        }
    }

    #[test]
    fn sorting_by_cpu_memory_and_id() {
        let mut rows = vec![
            row("b", Some(1.0), Some(3)),
            row("a", Some(50.0), Some(1)),
            row("c", None, Some(2)),
        ];
        sort(&mut rows, SortKey::Cpu, false);
        let ids = |r: &[Row]| r.iter().map(|r| r.id.clone()).collect::<Vec<_>>().join("");
        assert_eq!(ids(&rows), "abc");
        sort(&mut rows, SortKey::Mem, false);
        assert_eq!(ids(&rows), "bca");
        sort(&mut rows, SortKey::Id, true);
        assert_eq!(ids(&rows), "cba");
    }

    #[test]
    fn the_table_shows_units_and_limits() {
        let text = table(&[row("web", Some(12.5), Some(1 << 20))]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID "), "{text}");
        assert!(lines[1].starts_with("web "), "{text}");
        assert!(lines[1].contains("12.5"), "{text}");
        assert!(lines[1].contains("1.0MiB / 4.0MiB"), "{text}");
        assert!(lines[1].contains("25.0"), "{text}");
        assert!(lines[1].contains("1 / max"), "{text}");
        assert!(lines[1].contains("1B / 2.0KiB"), "{text}");
        assert!(lines[1].contains("- "), "block I/O unknown: {text}");
    }
}
