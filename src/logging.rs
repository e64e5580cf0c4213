//! Log lines for `--log FILE --log-format text|json`, in the shape go-runc and containerd read:
//! `{"level":"error","msg":"...","time":"RFC3339"}`, one per line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

pub struct Logger {
    file: Option<File>,
    format: Format,
    min: Level,
}

impl Logger {
    /// Log to `path` (appending) or, without one, to stderr.
    pub fn open(path: Option<&Path>, format: Format, debug: bool) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
            None => None,
        };
        let min = if debug { Level::Debug } else { Level::Info };
        Ok(Logger { file, format, min })
    }

    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    fn file_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.file.as_ref().map(|f| f.as_raw_fd())
    }

    pub fn log(&mut self, level: Level, msg: &str) {
        if level < self.min {
            return;
        }
        let line = render(self.format, level, msg, &now());
        // A log we cannot write must not turn a success into a failure.
        let _ = match &mut self.file {
            Some(f) => f.write_all(line.as_bytes()),
            None => std::io::stderr().write_all(line.as_bytes()),
        };
    }
}

/// The `--debug` sink: [`debug`] lines, and step timestamps (where a command spends its time,
/// as debug lines `step <name> +<ms>` measured from process start; a forked init shares the
/// clock).
struct Steps {
    start: std::time::Instant,
    sink: std::sync::Mutex<Logger>,
}

static STEPS: std::sync::OnceLock<Steps> = std::sync::OnceLock::new();

/// Turn step timestamps on, written through `sink` (a debug-level logger).
pub fn enable_steps(sink: Logger) {
    let _ = STEPS.set(Steps {
        start: std::time::Instant::now(),
        sink: std::sync::Mutex::new(sink),
    });
}

/// The log file the step lines go to, if any: a forked init that closes the runtime's fds must
/// keep this one while it logs steps (it is close-on-exec, so it never reaches the container),
/// or a later line would land in whatever file reused the number.
pub fn steps_fd() -> Option<std::os::fd::RawFd> {
    STEPS.get()?.sink.lock().ok()?.file_fd()
}

/// Record that `name` is done; free when `--debug` is off.
pub fn step(name: &str) {
    if let Some(steps) = STEPS.get() {
        let ms = steps.start.elapsed().as_secs_f64() * 1000.0;
        if let Ok(mut sink) = steps.sink.lock() {
            let pid = std::process::id();
            sink.log(Level::Debug, &format!("step {name} +{ms:.3}ms pid={pid}"));
        }
    }
}

/// The command's log: the `--log` file in its format, or stderr. Warnings and the final error go
/// through it; main installs the one it opened, so no command opens the file twice.
static SINK: std::sync::OnceLock<std::sync::Mutex<Logger>> = std::sync::OnceLock::new();

pub fn install(sink: Logger) {
    let _ = SINK.set(std::sync::Mutex::new(sink));
}

/// A line at `level` to the installed log (stderr in text form when none is installed).
pub fn log(level: Level, msg: &str) {
    match SINK.get().and_then(|s| s.lock().ok()) {
        Some(mut sink) => sink.log(level, msg),
        None => {
            let _ =
                std::io::stderr().write_all(render(Format::Text, level, msg, &now()).as_bytes());
        }
    }
}

/// A field the spec lets a runtime ignore, or a setting it could only partly apply: say so and
/// go on, as runc does.
pub fn warn(msg: &str) {
    log(Level::Warn, msg);
}

/// A debug line for `--debug` (`level=debug msg=...` in the --log-format); `msg` is only
/// called when --debug is on, so without it this costs one load and nothing is formatted.
pub fn debug(msg: impl FnOnce() -> String) {
    if let Some(steps) = STEPS.get() {
        if let Ok(mut sink) = steps.sink.lock() {
            sink.log(Level::Debug, &msg());
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub fn render(format: Format, level: Level, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => format!("time=\"{time}\" level={} msg={msg:?}\n", level.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_what_go_runc_reads() {
        let line = render(
            Format::Json,
            Level::Error,
            "container \"x\" does not exist",
            "T",
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "T");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    }

    #[test]
    fn text_line() {
        assert_eq!(
            render(Format::Text, Level::Warn, "hi", "T"),
            "time=\"T\" level=warning msg=\"hi\"\n"
        );
    }
}
