#!/usr/bin/env python3
"""A console-socket receiver for trying and testing terminals, like runc's recvtty.

Listens on SOCKET, receives the pty master that `nook create --console-socket SOCKET` sends
(SCM_RIGHTS), then copies the pty's output to stdout until the container closes it, and
stdin to the pty. With --once it exits after the first container.
"""
import argparse
import os
import select
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--no-stdin", action="store_true", help="do not forward stdin")
    ap.add_argument("--ready", help="create this file once listening")
    args = ap.parse_args()
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(1)
    if args.ready:
        open(args.ready, "w").close()
    conn, _ = srv.accept()
    msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    if not fds:
        print("recvtty: no fd received", file=sys.stderr)
        return 1
    master = fds[0]
    conn.close()
    srv.close()
    watch = [master] + ([] if args.no_stdin else [sys.stdin.fileno()])
    out = sys.stdout.buffer
    while True:
        ready, _, _ = select.select(watch, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            out.flush()
        if sys.stdin.fileno() in ready:
            data = os.read(sys.stdin.fileno(), 65536)
            if not data:
                watch.remove(sys.stdin.fileno())
            else:
                os.write(master, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
