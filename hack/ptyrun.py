#!/usr/bin/env python3
"""Runs a command on a new pty, as a person at a terminal would, and copies what it prints.

    hack/ptyrun.py [--timeout SECONDS] COMMAND [ARG...]

The command gets the pty as its controlling terminal and its stdin, stdout and stderr; its
output goes to this program's stdout (line ends as the pty made them: `tr -d '\r'` them), and
this program exits with the command's exit code (128 + N for a signal, 124 on timeout).

Nothing is ever written to the pty: unlike script(1), whose stdin at EOF (CI runs with stdin
from /dev/null) sends an end-of-file to the pty while the command may still be setting it up,
the command sees a terminal that nobody types on. Once the command has exited, output still
queued is read until the pty is quiet (processes it started may hold the pty open for good).
"""
import argparse
import os
import pty
import select
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if not args.command:
        ap.error("no command")
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(args.command[0], args.command)
        except OSError as e:
            print(f"ptyrun: {args.command[0]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
    deadline = time.monotonic() + args.timeout
    status = None
    quiet_since = None
    out = sys.stdout.buffer
    while True:
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                quiet_since = time.monotonic()
        if status is not None and time.monotonic() - quiet_since > 0.3:
            break
        if time.monotonic() > deadline:
            print(f"ptyrun: timed out after {args.timeout:g}s", file=sys.stderr)
            if status is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            return 124
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every end of the pty's slave side is closed
            data = b""
        if not data:
            if status is None:
                status = os.waitpid(pid, 0)[1]
            break
        out.write(data)
        out.flush()
        if status is not None:
            quiet_since = time.monotonic()
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main())
