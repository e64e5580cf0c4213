#!/usr/bin/env python3
"""A stand-in for systemd's manager on a Unix socket, for exercising nook's D-Bus client on a
host without systemd: EXTERNAL auth, then every method call gets an empty return, except
StartTransientUnit (mkdir the scope's cgroup2 dir, move the PIDs in), StopUnit (rmdir it)
and SetUnitProperties, which are logged. Start and stop reply with a job path and then send
JobRemoved(..., "done"). Usage: fake-systemd.py SOCKET CGROUP2_MOUNT LOG"""
import os, socket, struct, sys

sock_path, mount, log_path = sys.argv[1:4]

def pad(b, n):
    return b + b"\0" * (-len(b) % n)

class W:
    def __init__(self):
        self.b = b""
    def al(self, n):
        self.b = pad(self.b, n)
    def u32(self, v):
        self.al(4); self.b += struct.pack("<I", v)
    def s(self, v):
        v = v.encode(); self.u32(len(v)); self.b += v + b"\0"
    def g(self, v):
        self.b += bytes([len(v)]) + v.encode() + b"\0"

def message(kind, serial, fields, body):
    w = W()
    w.b = bytes([ord("l"), kind, 1, 1]); w.u32(len(body)); w.u32(serial); w.u32(0)
    start = len(w.b)
    for code, sig, val in fields:
        w.al(8); w.b += bytes([code]); w.g(sig)
        {"s": w.s, "o": w.s, "u": w.u32, "g": w.g}[sig](val)
    flen = len(w.b) - start
    w.b = w.b[:12] + struct.pack("<I", flen) + w.b[16:]
    w.al(8)
    return w.b + body

class R:
    def __init__(self, b, pos=0):
        self.b, self.p = b, pos
    def al(self, n):
        self.p += -self.p % n
    def u8(self):
        self.p += 1; return self.b[self.p - 1]
    def u32(self):
        self.al(4); self.p += 4; return struct.unpack_from("<I", self.b, self.p - 4)[0]
    def s(self):
        n = self.u32(); v = self.b[self.p:self.p + n].decode(); self.p += n + 1; return v
    def g(self):
        n = self.u8(); v = self.b[self.p:self.p + n].decode(); self.p += n + 1; return v

def props(r):
    """a(sv) with the value types nook sends: {name: value}."""
    n = r.u32(); r.al(8); end = r.p + n; out = {}
    while r.p < end:
        r.al(8); name = r.s(); sig = r.g()
        if sig == "s": out[name] = r.s()
        elif sig in "bu": out[name] = r.u32()
        elif sig == "t": r.al(8); out[name] = struct.unpack_from("<Q", r.b, r.p)[0]; r.p += 8
        elif sig == "au":
            m = r.u32(); e = r.p + m; l = []
            while r.p < e: l.append(r.u32())
            out[name] = l
        elif sig == "ay": m = r.u32(); out[name] = list(r.b[r.p:r.p + m]); r.p += m
        elif sig == "a(ss)":
            m = r.u32(); r.al(8); e = r.p + m; l = []
            while r.p < e: r.al(8); l.append((r.s(), r.s()))
            out[name] = l
        else: raise ValueError(sig)
    return out

def log(line):
    with open(log_path, "a") as f:
        f.write(line + "\n")

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path); srv.listen(8)
out_serial = 1000
while True:
    c, _ = srv.accept()
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += c.recv(1)
    c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
    buf = b""
    while not buf.endswith(b"BEGIN\r\n"):
        buf += c.recv(1)
    jobs = 0
    while True:
        head = c.recv(16, socket.MSG_WAITALL)
        if len(head) < 16: break
        blen, serial, flen = struct.unpack_from("<III", head, 4)
        total = (16 + flen + 7) // 8 * 8 + blen
        rest = c.recv(total - 16, socket.MSG_WAITALL)
        msg = head + rest
        r = R(msg, 16); member = None
        while r.p < 16 + flen:
            r.al(8); code = r.u8(); sig = r.g()
            v = {"s": r.s, "o": r.s, "u": r.u32, "g": r.g}[sig]()
            if code == 3: member = v
        body = R(msg, (16 + flen + 7) // 8 * 8)
        body.b = msg[body.p:]; body.p = 0
        reply, job = W(), None
        if member in ("StartTransientUnit", "StopUnit"):
            unit = body.s(); body.s()
            jobs += 1; job = "/org/freedesktop/systemd1/job/%d" % jobs
            if member == "StartTransientUnit":
                p = props(body)
                log("start %s %s" % (unit, sorted(p.items())))
                stem, parts = p["Slice"][:-len(".slice")], []
                for i, _ in enumerate(stem.split("-")):
                    parts.append("-".join(stem.split("-")[:i + 1]) + ".slice")
                d = os.path.join(mount, *parts, unit)
                os.makedirs(d, exist_ok=True)
                for pid in p["PIDs"]:
                    with open(os.path.join(d, "cgroup.procs"), "w") as f: f.write(str(pid))
            else:
                log("stop %s" % unit)
            reply.s(job)
        elif member == "SetUnitProperties":
            unit = body.s(); body.u32(); log("set %s %s" % (unit, sorted(props(body).items())))
        elif member == "Hello":
            reply.s(":1.1")
        out_serial += 1
        fields = [(5, "u", serial)] + ([(8, "g", "o" if job else "s")] if reply.b else [])
        c.sendall(message(2, out_serial, fields, reply.b))
        if job:
            sig = W(); sig.u32(jobs); sig.s(job); sig.s(unit); sig.s("done")
            out_serial += 1
            c.sendall(message(4, out_serial, [(1, "o", "/org/freedesktop/systemd1"),
                (2, "s", "org.freedesktop.systemd1.Manager"), (3, "s", "JobRemoved"),
                (8, "g", "uoss")], sig.b))
    c.close()
