//! The few D-Bus calls the systemd driver makes, over a blocking Unix socket: EXTERNAL
//! authentication, method calls to systemd's manager, and the `JobRemoved` signal that says a
//! start or stop job finished. Little-endian messages only (what systemd and dbus-daemon send
//! on the hosts nook runs on); no fd passing, no introspection.
//!
//! Why not a D-Bus crate: the driver needs four methods and one signal. The well-kept crate
//! (zbus) brings an async executor and a background thread per connection, and nook's
//! runtime process must stay single-threaded until execve. Marshalling what we send is a few
//! plain functions, tested below against byte sequences written out by hand.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one reply or job may take (runc waits 30 s for systemd too).
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("connect to the D-Bus socket {path} (is dbus or systemd running?)")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("talk to D-Bus over {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("D-Bus {path}: authentication refused: {reply:?}")]
    Auth { path: PathBuf, reply: String },
    #[error("D-Bus {path}: malformed message: {what}")]
    Malformed { path: PathBuf, what: &'static str },
    #[error("{method}: {name}: {message}")]
    Call {
        method: &'static str,
        name: String,
        message: String,
    },
}

/// A property value of the types systemd's unit properties use here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Bool(bool),
    U64(u64),
    U32s(Vec<u32>),
    Bytes(Vec<u8>),
    /// `a(ss)`: DeviceAllow's (path, access) pairs.
    StrPairs(Vec<(String, String)>),
}

impl Value {
    fn signature(&self) -> &'static str {
        match self {
            Value::Str(_) => "s",
            Value::Bool(_) => "b",
            Value::U64(_) => "t",
            Value::U32s(_) => "au",
            Value::Bytes(_) => "ay",
            Value::StrPairs(_) => "a(ss)",
        }
    }
}

/// Appends D-Bus wire-format values. Offsets count from the start of `buf`, which must be
/// 8-aligned within the message (a body is; so is a message).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }
    pub fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u32(u32::from(v));
    }
    /// `s` and `o` are written alike.
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    pub fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// An array whose elements align to `align`: the length excludes the padding after it.
    pub fn array(&mut self, align: usize, elements: impl FnOnce(&mut Writer)) {
        self.u32(0);
        let len_at = self.buf.len() - 4;
        self.pad(align);
        let start = self.buf.len();
        elements(self);
        let len = (self.buf.len() - start) as u32;
        self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Str(s) => self.str(s),
            Value::Bool(b) => self.bool(*b),
            Value::U64(n) => self.u64(*n),
            Value::U32s(list) => self.array(4, |w| list.iter().for_each(|n| w.u32(*n))),
            Value::Bytes(bytes) => self.array(1, |w| w.buf.extend_from_slice(bytes)),
            Value::StrPairs(pairs) => self.array(8, |w| {
                for (a, b) in pairs {
                    w.pad(8);
                    w.str(a);
                    w.str(b);
                }
            }),
        }
    }
    pub fn variant(&mut self, v: &Value) {
        self.signature(v.signature());
        self.value(v);
    }
    /// `a(sv)`: systemd's property list.
    pub fn properties(&mut self, props: &[(&str, Value)]) {
        self.array(8, |w| {
            for (name, value) in props {
                w.pad(8);
                w.str(name);
                w.variant(value);
            }
        });
    }
}

/// A method call to systemd's manager object: the whole message, header and body.
pub fn method_call(
    serial: u32,
    destination: Option<&str>,
    member: &str,
    signature: &str,
    body: &[u8],
) -> Vec<u8> {
    method_call_to(
        serial,
        destination,
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        member,
        signature,
        body,
    )
}

pub(crate) fn method_call_to(
    serial: u32,
    destination: Option<&str>,
    path: &str,
    interface: &str,
    member: &str,
    signature: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.extend_from_slice(&[b'l', 1, 0, 1]);
    w.u32(body.len() as u32);
    w.u32(serial);
    let field = |w: &mut Writer, code: u8, sig: &str, write: &dyn Fn(&mut Writer)| {
        w.pad(8);
        w.byte(code);
        w.signature(sig);
        write(w);
    };
    w.array(8, |w| {
        field(w, 1, "o", &|w| w.str(path));
        field(w, 2, "s", &|w| w.str(interface));
        field(w, 3, "s", &|w| w.str(member));
        if let Some(d) = destination {
            field(w, 6, "s", &|w| w.str(d));
        }
        if !signature.is_empty() {
            field(w, 8, "g", &|w| w.signature(signature));
        }
    });
    w.pad(8);
    w.buf.extend_from_slice(body);
    w.buf
}

/// What the driver reads of an incoming message.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Incoming {
    pub kind: u8,
    pub reply_serial: Option<u32>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub signature: String,
    pub body: Vec<u8>,
}

pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// Reads values back; offsets are relative to the start of `buf` (a message or a body).
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    fn align(&mut self, align: usize) {
        self.pos = self.pos.next_multiple_of(align);
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(bytes)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.align(4);
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// `s` or `o`.
    pub fn str(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        let s = self.take(len)?;
        self.take(1)?;
        String::from_utf8(s.to_vec()).ok()
    }
    pub fn signature(&mut self) -> Option<String> {
        let len = self.u8()? as usize;
        let s = self.take(len)?;
        self.take(1)?;
        String::from_utf8(s.to_vec()).ok()
    }
}

/// Bytes a whole message takes, from its first 16: header, fields, padding and body.
pub fn message_len(fixed: &[u8; 16]) -> Option<usize> {
    if fixed[0] != b'l' {
        return None;
    }
    let body = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]) as usize;
    let fields = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]) as usize;
    Some((16 + fields).next_multiple_of(8) + body)
}

/// Parse one whole little-endian message.
pub fn parse(msg: &[u8]) -> Option<Incoming> {
    let mut r = Reader::new(msg);
    if r.u8()? != b'l' {
        return None;
    }
    let mut inc = Incoming {
        kind: r.u8()?,
        ..Incoming::default()
    };
    r.take(2)?;
    let body_len = r.u32()? as usize;
    r.u32()?;
    let fields_len = r.u32()? as usize;
    let fields_end = r.pos + fields_len;
    while r.pos < fields_end {
        r.align(8);
        let code = r.u8()?;
        let sig = r.signature()?;
        match sig.as_str() {
            "s" | "o" => {
                let s = r.str()?;
                match code {
                    3 => inc.member = Some(s),
                    4 => inc.error_name = Some(s),
                    _ => {}
                }
            }
            "u" => {
                let n = r.u32()?;
                if code == 5 {
                    inc.reply_serial = Some(n);
                }
            }
            "g" => {
                let s = r.signature()?;
                if code == 8 {
                    inc.signature = s;
                }
            }
            _ => return None,
        }
    }
    r.align(8);
    inc.body = r.take(body_len)?.to_vec();
    Some(inc)
}

/// One authenticated connection.
pub struct Bus {
    stream: UnixStream,
    path: PathBuf,
    /// Whether a message bus daemon sits between us and systemd (then messages name their
    /// destination, and signals must be asked for).
    via_daemon: bool,
    serial: Cell<u32>,
    /// `JobRemoved` signals read while waiting for something else: (job path, result).
    finished_jobs: std::cell::RefCell<Vec<(String, String)>>,
}

const SYSTEMD: &str = "org.freedesktop.systemd1";

impl Bus {
    /// Connect and authenticate as our uid. `via_daemon`: the system bus (dbus-daemon), not
    /// systemd's private socket.
    pub fn connect(path: &Path, via_daemon: bool) -> Result<Bus, DbusError> {
        let stream = UnixStream::connect(path).map_err(|source| DbusError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let bus = Bus {
            stream,
            path: path.to_path_buf(),
            via_daemon,
            serial: Cell::new(0),
            finished_jobs: Default::default(),
        };
        bus.io(bus.stream.set_read_timeout(Some(TIMEOUT)))?;
        bus.authenticate()?;
        if via_daemon {
            bus.call_to(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "Hello",
                "",
                &[],
            )?;
            let rule = "type='signal',sender='org.freedesktop.systemd1',\
                        interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";
            let mut w = Writer::default();
            w.str(rule);
            bus.call_to(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "AddMatch",
                "s",
                &w.buf,
            )?;
            // systemd sends signals on the system bus only to subscribed clients.
            bus.call("Subscribe", "", &[])?;
        }
        Ok(bus)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io<T>(&self, r: std::io::Result<T>) -> Result<T, DbusError> {
        r.map_err(|source| DbusError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn authenticate(&self) -> Result<(), DbusError> {
        let uid = nix::unistd::getuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let mut s = &self.stream;
        self.io(s.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes()))?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") && line.len() < 512 {
            match self.io(s.read(&mut byte))? {
                0 => break,
                _ => line.push(byte[0]),
            }
        }
        if !line.starts_with(b"OK ") {
            return Err(DbusError::Auth {
                path: self.path.clone(),
                reply: String::from_utf8_lossy(&line).trim_end().to_string(),
            });
        }
        self.io(s.write_all(b"BEGIN\r\n"))
    }

    fn next_serial(&self) -> u32 {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        n
    }

    /// Call a method of systemd's manager and return the reply's body.
    pub fn call(
        &self,
        member: &'static str,
        signature: &str,
        body: &[u8],
    ) -> Result<Incoming, DbusError> {
        let dest = self.via_daemon.then_some(SYSTEMD);
        let serial = self.next_serial();
        let msg = method_call(serial, dest, member, signature, body);
        self.send_and_wait(member, serial, &msg)
    }

    fn call_to(
        &self,
        dest: &str,
        path: &str,
        member: &'static str,
        signature: &str,
        body: &[u8],
    ) -> Result<Incoming, DbusError> {
        let serial = self.next_serial();
        let msg = method_call_to(serial, Some(dest), path, dest, member, signature, body);
        self.send_and_wait(member, serial, &msg)
    }

    fn send_and_wait(
        &self,
        member: &'static str,
        serial: u32,
        msg: &[u8],
    ) -> Result<Incoming, DbusError> {
        self.io((&self.stream).write_all(msg))?;
        loop {
            let inc = self.read_message()?;
            if inc.reply_serial != Some(serial) {
                self.note_signal(&inc);
                continue;
            }
            if inc.kind == ERROR {
                let message = Reader::new(&inc.body).str().unwrap_or_default();
                return Err(DbusError::Call {
                    method: member,
                    name: inc.error_name.unwrap_or_default(),
                    message,
                });
            }
            return Ok(inc);
        }
    }

    fn note_signal(&self, inc: &Incoming) {
        if inc.kind == SIGNAL && inc.member.as_deref() == Some("JobRemoved") {
            if let Some(job) = job_removed(&inc.body) {
                self.finished_jobs.borrow_mut().push(job);
            }
        }
    }

    /// Wait for the job `job` (an object path) to finish; its result ("done" on success).
    pub fn wait_job(&self, job: &str) -> Result<String, DbusError> {
        loop {
            let found = {
                let mut jobs = self.finished_jobs.borrow_mut();
                let at = jobs.iter().position(|(path, _)| path == job);
                at.map(|i| jobs.swap_remove(i).1)
            };
            if let Some(result) = found {
                return Ok(result);
            }
            let inc = self.read_message()?;
            self.note_signal(&inc);
        }
    }

    fn read_message(&self) -> Result<Incoming, DbusError> {
        let mut s = &self.stream;
        let mut fixed = [0u8; 16];
        self.io(s.read_exact(&mut fixed))?;
        let malformed = |what| DbusError::Malformed {
            path: self.path.clone(),
            what,
        };
        let len = message_len(&fixed).ok_or(malformed("not little-endian"))?;
        if len > 1 << 24 {
            return Err(malformed("longer than 16 MiB"));
        }
        let mut msg = fixed.to_vec();
        msg.resize(len, 0);
        self.io(s.read_exact(&mut msg[16..]))?;
        parse(&msg).ok_or(malformed("bad header"))
    }
}

/// `JobRemoved(u id, o job, s unit, s result)`: (job, result).
pub fn job_removed(body: &[u8]) -> Option<(String, String)> {
    let mut r = Reader::new(body);
    r.u32()?;
    let job = r.str()?;
    r.str()?;
    Some((job, r.str()?))
}
