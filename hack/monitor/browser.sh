#!/usr/bin/env bash
# The web monitor in a real browser: Debian's chromium, headless, loads the page `nook monitor`
# serves, finds the running containers in its table, and sees the CPU % of one of them rise
# once a process in it burns CPU (and its uptime move). Keeps a screenshot of the page.
#
#   NOOK=/path/to/nook        the binary to test (default: the release build, else the debug one)
#   SCREENSHOT=docs/monitor.png   also copy the screenshot there (the README shows that file)
#   KEEP=1                    leave the work directory (DOM dumps, monitor log) in place
# Run as root (it creates containers). Exit status non-zero on any failure.
set -euo pipefail

# shellcheck source=hack/clients/lib.sh
source "$(dirname "$0")/../clients/lib.sh"
need_root

target=$REPO_DIR/target/x86_64-unknown-linux-gnu
NOOK=${NOOK:-$([[ -x $target/release/nook ]] && echo "$target/release/nook" || echo "$target/debug/nook")}
[[ -x $NOOK ]] || { echo "browser: no nook binary at $NOOK (cargo build first)" >&2; exit 1; }
ensure_pkg chromium chromium
ensure_pkg /bin/busybox busybox-static

WORK=$(mktemp -d /tmp/nook-monitor.XXXXXX)
ROOT=$WORK/state
MONITOR_PID=
cleanup() {
    local rc=$?
    set +e
    if [[ -n $MONITOR_PID ]]; then
        kill "$MONITOR_PID" 2>/dev/null
        wait "$MONITOR_PID" 2>/dev/null
    fi
    for id in idle busy; do "$NOOK" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true; done
    if [[ $KEEP == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT

nook() { "$NOOK" --root "$ROOT" "$@"; }
fail() { echo "FAIL browser: $*" >&2; exit 1; }

# Two containers from one busybox bundle: "idle" sleeps; "busy" sleeps too until we exec a loop.
mkdir -p "$WORK/bundle"
"$REPO_DIR/hack/mkrootfs.sh" "$WORK/bundle/rootfs" >/dev/null
(cd "$WORK/bundle" && "$NOOK" spec)
python3 - "$WORK/bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["args"] = ["sleep", "3600"]
c["process"]["terminal"] = False
c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 64}}
json.dump(c, open(path, "w"), indent=2)
EOF
for id in idle busy; do
    nook create --bundle "$WORK/bundle" "$id" </dev/null >/dev/null
    nook start "$id"
done

# The monitor on a free loopback port; its first log line names the address.
"$NOOK" --root "$ROOT" monitor --listen 127.0.0.1:0 --interval 500ms --history 30s 2>"$WORK/monitor.log" &
MONITOR_PID=$!
for _ in $(seq 50); do
    grep -q 'http://' "$WORK/monitor.log" && break
    sleep 0.1
done
URL=$(grep -o 'http://[0-9.:]*/' "$WORK/monitor.log" | head -1)
[[ -n $URL ]] || fail "no address in the monitor's first log line: $(cat "$WORK/monitor.log")"
head -1 "$WORK/monitor.log" | grep -q 'loopback only' || fail "first log line: $(head -1 "$WORK/monitor.log")"
echo "monitor at $URL"

# chromium runs the page's script for BUDGET ms of virtual time (its fetches to the monitor
# are real), then prints the DOM or takes the screenshot.
browse() {
    chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chromium" \
        --virtual-time-budget=4000 --window-size=1280,1000 "$@" "$URL" 2>>"$WORK/chromium.log"
}
# cell FILE ID CLASS: the data-value of that cell in a DOM dump (empty when missing).
cell() {
    python3 - "$@" <<'EOF'
import re, sys
dom, cid, cls = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(dom).read()
row = re.search(r'<tr data-id="%s" data-status="([a-z]+)">(.*?)</tr>' % re.escape(cid), text, re.S)
if not row:
    sys.exit(0)
if cls == "status":
    print(row.group(1))
    sys.exit(0)
m = re.search(r'<td class="%s"[^>]*data-value="([0-9.]+)"' % cls, row.group(2))
print(m.group(1) if m else "")
EOF
}

# 1. The page loads and lists both running containers, with numbers for them.
sleep 1.5
browse --dump-dom >"$WORK/before.html"
grep -q '<title>nook monitor</title>' "$WORK/before.html" || fail "page did not load (see $WORK/before.html)"
for id in idle busy; do
    [[ $(cell "$WORK/before.html" "$id" status) == running ]] || fail "no running row for $id in the table"
    [[ -n $(cell "$WORK/before.html" "$id" mem) ]] || fail "no memory number for $id"
done
grep -q 'class="card" data-id="busy"' "$WORK/before.html" || fail "no chart card for busy"
grep -q '<polyline' "$WORK/before.html" || fail "no chart drawn"
grep -q 'sleep 3600' "$WORK/before.html" || fail "no config summary (args) shown"
cpu_before=$(cell "$WORK/before.html" busy cpu)
up_before=$(cell "$WORK/before.html" busy uptime)
[[ -n $cpu_before ]] || fail "no CPU % for busy"
echo "before: busy cpu ${cpu_before}% uptime ${up_before}s"

# 2. A process in "busy" spins; within a few readings the page shows it.
nook exec --detach busy sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1
sleep 3
browse --dump-dom >"$WORK/after.html"
cpu_after=$(cell "$WORK/after.html" busy cpu)
up_after=$(cell "$WORK/after.html" busy uptime)
cpu_idle=$(cell "$WORK/after.html" idle cpu)
echo "after:  busy cpu ${cpu_after}% uptime ${up_after}s; idle cpu ${cpu_idle}%"
python3 - "$cpu_before" "$cpu_after" "$cpu_idle" "$up_before" "$up_after" <<'EOF' || fail "the numbers did not move as they should"
import sys
before, after, idle, up0, up1 = map(float, sys.argv[1:])
# A spinning shell takes a whole core when it can; on a machine shared with other work it
# gets less, so the bar is a clear rise, not a number near 100.
assert before < 10, f"busy was already busy: {before}"
assert after >= 10 and after > before + 8, f"busy's CPU % did not rise: {before} -> {after}"
assert after > idle + 8, f"busy ({after}) is not busier than idle ({idle})"
assert up1 > up0, f"uptime did not move: {up0} -> {up1}"
EOF

# 3. A screenshot of the page as it is now (the chart shows the rise).
mkdir -p "$REPO_DIR/target/monitor"
shot=$REPO_DIR/target/monitor/monitor.png
rm -f "$shot"
browse --screenshot="$shot" --window-size=1200,540 >/dev/null
[[ $(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "no PNG screenshot at $shot"
echo "screenshot: $shot ($(stat -c %s "$shot") bytes)"
if [[ -n ${SCREENSHOT:-} ]]; then
    cp "$shot" "$REPO_DIR/$SCREENSHOT"
    echo "copied to $SCREENSHOT"
fi
echo "PASS browser: the page lists idle and busy; busy's CPU % went from $cpu_before to $cpu_after"
