#!/usr/bin/env bash
# Load benchmark: lithe's hello_server against hyper (examples/peer_hyper_hello.rs,
# with its 30 s header-read timeout on, as lithe has its timeouts on; benches/server.rs
# measures hyper without it too)
# and a parse-nothing ceiling (examples/peer_ceiling.rs), each workload driven by
# the same load generator for all three in the same run, interleaved round by
# round.
#
#   bash benches/load/run.sh            # needs wrk, python3, taskset, 2 cores
#   DURATION=3 bash benches/load/run.sh      # quicker, noisier
#   (ROUNDS other than a multiple of 6 leaves the servers' order unbalanced:
#   the script warns.)
#
# Each server is pinned to core 0 (lithe's `--threads 1` runs one worker, its
# main thread and async-io's reactor thread; all count in its CPU time); the
# load generator (one thread, 50 keep-alive connections) is pinned to core 1.
# The order of the servers changes from round to round through all six (six
# rounds by default), so each goes first, and before each other, equally
# often. Two workloads: plain keep-alive, driven by wrk, and
# pipelined 16 deep, driven by examples/load_pipelined.rs (wrk pipelines
# through a Lua script, but then it times batches, and its percentiles come out
# as 0; load_pipelined times every request).
# Reported per server: requests/s, p99 latency (plain: wrk's, which it corrects
# for coordinated omission; pipelined: each request's time from its batch's
# write to its answer, uncorrected; compare within a workload, not across)
# and server CPU time per request
# (from /proc/PID/stat), the median over the rounds, with the share of the
# run's time the server was busy (its CPU time over the run's), and the ratios lithe/hyper
# and lithe/ceiling (the median of the ratios within each round, which the
# host's drifting speed affects least), with the share of the time the load
# generator itself was busy (a warning past 95 %: then it, not the server, may
# set the rate, and the rate and p99 ratios are marked "generator-bound": on
# two cores, plain keep-alive is, and its CPU per request is the figure to
# read).
# And lithe's and hyper's RSS with IDLE (default 5,000) idle keep-alive
# connections, all checked still open (benches/load/idle_conns.py), measured
# first, on the fresh servers (after one exchange, so that what a server sets
# up on its first request is not counted as the connections' cost). hyper's
# service, like hello_server's, matches method and path before answering
# GET /, so both pay for looking at the request.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-6}
IDLE=${IDLE:-5000}
fail() { echo "run.sh: $*" >&2; exit 1; }
# Everything the run needs, checked before minutes of it are spent.
command -v wrk >/dev/null || fail "wrk not found: apt-get install wrk"
command -v python3 >/dev/null || fail "python3 not found: apt-get install python3"
command -v taskset >/dev/null || fail "taskset not found: apt-get install util-linux"
[ -r /proc/self/stat ] || fail "needs Linux's /proc"
[ "$(nproc)" -ge 2 ] || fail "needs two cores (servers on core 0, the load generator on core 1)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in 18080 18081 18082; do
  ! listening "$port" || fail "port $port is taken (a server left by an earlier run?)"
done

cargo build --release --example hello_server --example peer_hyper_hello --example peer_ceiling --example load_pipelined >&2
bin="${CARGO_TARGET_DIR:-target}/release/examples"
work=$(mktemp -d)
results=$work/results
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start() { # name port command...
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    listening "$port" && break
    sleep 0.05
  done
  if ! kill -0 "$pid" 2>/dev/null || ! listening "$port"; then
    cat "$work/$name.log" >&2
    fail "$name did not start on port $port (its output is above)"
  fi
  eval "pid_$name=$pid"
}

start lithe 18080 "$bin/hello_server" --port 18080 --threads 1
start hyper 18081 "$bin/peer_hyper_hello" --port 18081
start ceiling 18082 "$bin/peer_ceiling" --port 18082

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Idle memory first, while the servers are fresh: after the load runs their
# allocators hold freed memory that new connections reuse without growing
# the RSS, which would understate each one's cost (by how much depends on
# the allocator, so not alike for both).
idle_lines=""
for name in lithe hyper; do
  case $name in lithe) port=18080 ;; hyper) port=18081 ;; esac
  pid_var="pid_$name"; pid=${!pid_var}
  line=$(python3 benches/load/idle_conns.py "$port" "$pid" "$IDLE")
  idle_lines+="$name $line"$'\n'
done

# The idle test ends by closing its thousands of connections, which the
# server then reaps: let that finish before the first timed run.
sleep 2

# The six orders of the three servers, a round each in turn.
(( ROUNDS % 6 == 0 )) || echo "run.sh: warning: ROUNDS=$ROUNDS is not a multiple of 6: some servers go first more often than others" >&2
orders=("lithe hyper ceiling" "hyper ceiling lithe" "ceiling lithe hyper"
        "lithe ceiling hyper" "hyper lithe ceiling" "ceiling hyper lithe")
for round in $(seq "$ROUNDS"); do
  # Each round runs the servers in another order. Where a run falls in the
  # round moves its figures (measured: the first plain run of a round, which
  # follows the previous round's pipelined runs, cost up to 10 % more CPU per
  # request), and a fixed order charged that to the same server every round;
  # over six rounds each server goes first, and before each other, equally
  # often.
  read -r -a order <<<"${orders[$(( (round - 1) % ${#orders[@]} ))]}"
  for mode in plain pipelined; do
    for name in "${order[@]}"; do
      case $name in lithe) port=18080 ;; hyper) port=18081 ;; ceiling) port=18082 ;; esac
      pid_var="pid_$name"; pid=${!pid_var}
      if [ "$mode" = pipelined ]; then
        load=("$bin/load_pipelined" --port "$port" --connections 50 --depth 16 --duration "$DURATION")
      else
        load=(wrk -t1 -c50 -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
      fi
      before=$(cpu_ticks "$pid")
      # The generator's own CPU time too: one busy all the time caps every
      # server at its speed, and the req/s ratios shrink towards 1.
      out=$( { TIMEFORMAT='%U %S %R'; time taskset -c 1 "${load[@]}"; } 2>"$work/load.time") ||
        fail "${load[0]} failed against $name ($mode): $out $(cat "$work/load.time")"
      if ! kill -0 "$pid" 2>/dev/null; then
        cat "$work/$name.log" >&2
        fail "$name died under the $mode load (its output is above)"
      fi
      after=$(cpu_ticks "$pid")
      load_busy=$(tail -n 1 "$work/load.time" | awk '{ printf "%.2f", ($1 + $2) / $3 }')
      load_seconds=$(tail -n 1 "$work/load.time" | awk '{ print $3 }')
      echo "$out" >&2
      # A server answering errors must not be scored on its rate.
      if grep -q "Non-2xx or 3xx responses" <<<"$out"; then
        fail "$name answered errors ($mode); the load report is above"
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$name" "$((after - before))" "$load_busy" "$load_seconds" "$(echo "$out" | tr '\n' '|')" >> "$results"
    done
  done
done

python3 - "$results" "$(getconf CLK_TCK)" "$idle_lines" <<'PY' || fail "summary failed; the raw results are in $results"
import re, statistics, sys
path, clk, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
rows, busy, server_busy = {}, {}, {}
for line in open(path):
    rnd, mode, name, ticks, load_busy, seconds, out = line.rstrip("\n").split("\t", 6)
    out = out.replace("|", "\n")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * unit[m.group(2)] if m else 0.0
    cpu_us = int(ticks) / clk * 1e6 / max(total, 1)
    rows.setdefault((mode, name), []).append((rps, p99, cpu_us))
    busy.setdefault((mode, name), []).append(float(load_busy))
    # The server's CPU time over the run's: near 100 % it, not the load
    # generator, set the rate (it has one core; lithe's reactor thread
    # shares it).
    server_busy.setdefault((mode, name), []).append(int(ticks) / clk / max(float(seconds), 1e-9))
    # Timeouts and dropped connections skew the rate: said, not hidden.
    e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if e and any(int(n) for n in e.groups()):
        print(f"warning: round {rnd} {mode} {name}: {e.group(0)}")
print(f"\n{'workload':10} {'server':8} {'req/s':>10} {'p99 ms':>8} {'CPU us/req':>10} {'load busy':>9} {'server busy':>11}")
med = {}
for (mode, name), vals in sorted(rows.items()):
    m = tuple(statistics.median(v[i] for v in vals) for i in range(3))
    med[(mode, name)] = m
    busy_share = statistics.median(busy[(mode, name)])
    server_share = statistics.median(server_busy[(mode, name)])
    print(f"{mode:10} {name:8} {m[0]:10.0f} {m[1]:8.2f} {m[2]:10.2f} {busy_share:9.0%} {server_share:11.0%}")
    if busy_share >= 0.95:
        print(f"warning: the load generator was busy {busy_share:.0%} of the time against {name} ({mode}):"
              " it, not the server, may set that rate")
print()
# The machine's speed drifts between rounds (shared hosts), so each ratio is
# taken within a round, where the servers ran seconds apart, and the median of
# those per-round ratios is reported, with their range in brackets.
def ratio(mode, a, b, i):
    both = list(zip(rows[(mode, a)], rows[(mode, b)]))
    pairs = [x[i] / y[i] for x, y in both if x[i] and y[i]]
    if len(pairs) < len(both):
        print(f"warning: {len(both) - len(pairs)} round(s) of {mode} left out of a {a}/{b} ratio"
              " (a figure of 0 or missing)")
    if not pairs:
        return "n/a"
    # A rate the generator set is its own, whichever server was faster: the
    # ratio then leans to 1 and says little of the servers (read CPU/req).
    bound = i != 2 and any(statistics.median(busy[(mode, n)]) >= 0.95 for n in (a, b))
    spread = f" [{min(pairs):.2f}-{max(pairs):.2f}]"
    return f"{statistics.median(pairs):.2f}x{spread}" + (" (generator-bound)" if bound else "")
print("(hyper runs with its header-read timeout on)")
for mode in ("plain", "pipelined"):
    print(f"{mode:10} lithe/hyper: req/s {ratio(mode, 'lithe', 'hyper', 0)}  p99 {ratio(mode, 'lithe', 'hyper', 1)}"
          f"  CPU/req {ratio(mode, 'lithe', 'hyper', 2)}"
          f"   lithe/ceiling: req/s {ratio(mode, 'lithe', 'ceiling', 0)}  p99 {ratio(mode, 'lithe', 'ceiling', 1)}"
          f"  CPU/req {ratio(mode, 'lithe', 'ceiling', 2)}")
print()
per = {}
for line in idle.strip().splitlines():
    name, before, after, per_conn = line.split()
    per[name] = int(per_conn)
    print(f"idle keep-alive: {name:6} RSS {int(before)} KiB -> {int(after)} KiB, {int(per_conn)} bytes/connection")
if per.get("hyper"):
    print(f"idle memory lithe/hyper: {per['lithe'] / per['hyper']:.2f}x")
PY
rm -rf "$work"
