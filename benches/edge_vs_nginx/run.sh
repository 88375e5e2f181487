#!/usr/bin/env bash
# Loopback load run: cdnlab's edge against nginx proxy_cache, same origin, same load.
#
#   bash benches/edge_vs_nginx/run.sh [DURATION] [CONNECTIONS] [WRK_THREADS] [ROUNDS]
#
# Each round measures every workload on nginx, then on cdnlab, then on cdnlab with
# `zero_copy = false` ("cdnlab-copy": every body byte copied into the socket), DURATION each; with more
# than one round, the medians per workload and proxy follow (shared machines are noisy, and
# alternating the two spreads the noise over both). `proxy µs/req` is the proxy processes' own
# CPU time (user + system, from /proc) per request: at 100 KiB one wrk thread is the
# bottleneck on 2 cores, and this column still tells the two proxies' costs apart.
#
# Needs nginx and wrk (apt-get install nginx wrk) and a release build (cargo build --release).
# The origin is nginx serving static files with Cache-Control: public, max-age=3600; both
# proxies cache everything in memory (nginx's cache directory is on /dev/shm) and are warmed
# first, so every measured request is a hit. wrk is closed-loop: the figures are each proxy's
# all-hit throughput and the latency wrk sees at that load. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10s}
CONNS=${2:-64}
THREADS=${3:-1} # wrk threads
ROUNDS=${4:-1}
WORK=$(mktemp -d /dev/shm/cdnlab-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run unprivileged and must read the files
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT

ORIGIN=127.0.0.1:9101 NGINX=127.0.0.1:9102 EDGE=127.0.0.1:9103 ADMIN=127.0.0.1:9104
# A second edge with `zero_copy = false`: what sending large hits by reference is worth.
COPY=127.0.0.1:9105 COPY_ADMIN=127.0.0.1:9106

# Objects: /1k/0, /100k/0, and /z/0 … /z/9999 (1 KiB each) for the Zipf mix.
mkdir -p "$WORK/www/1k" "$WORK/www/100k" "$WORK/www/z" "$WORK/cache" "$WORK/logs"
head -c 1024 /dev/urandom > "$WORK/www/1k/0"
head -c 102400 /dev/urandom > "$WORK/www/100k/0"
python3 - "$WORK/www/z" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(10000):
    with open(os.path.join(d, str(i)), "wb") as f:
        f.write(os.urandom(1024))
PY

cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush off; tcp_nodelay on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  proxy_cache_path $WORK/cache levels=1:2 keys_zone=c:64m max_size=1g inactive=1h use_temp_path=off;
  upstream origin { server $ORIGIN; keepalive 64; }
  server {
    listen $ORIGIN;
    root $WORK/www;
    add_header Cache-Control "public, max-age=3600";
  }
  server {
    listen $NGINX;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache c;
      proxy_cache_valid 200 1h;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"

edge_config() { # listen admin zero_copy
  cat <<CONF
listen = "$1"
admin_listen = "$2"
name = "bench"
[cache]
policy = "lru"
capacity = "1GiB"
max_object_size = "1MiB"
zero_copy = $3
[[origin]]
name = "origin"
url = "http://$ORIGIN"
[[behavior]]
path = "*"
CONF
}
edge_config "$EDGE" "$ADMIN" true > "$WORK/edge.toml"
edge_config "$COPY" "$COPY_ADMIN" false > "$WORK/edge-copy.toml"
./target/release/cdnlab edge --config "$WORK/edge.toml" 2> "$WORK/logs/edge.log" &
EDGE_PID=$!
./target/release/cdnlab edge --config "$WORK/edge-copy.toml" 2> "$WORK/logs/edge-copy.log" &
COPY_PID=$!
for admin in $ADMIN $COPY_ADMIN; do
  for _ in $(seq 50); do curl -s "http://$admin/healthz" >/dev/null && break; sleep 0.1; done
done

# Zipf(0.8) over the 10,000 objects, the same seed for both proxies.
cat > "$WORK/zipf.lua" <<'LUA'
local n, alpha = 10000, 0.8
local cdf, total = {}, 0
for i = 1, n do total = total + 1 / (i ^ alpha); cdf[i] = total end
for i = 1, n do cdf[i] = cdf[i] / total end
math.randomseed(42)
request = function()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return wrk.format("GET", "/z/" .. (lo - 1))
end
LUA

warm() { # every object once through each proxy
  for host in $NGINX $EDGE $COPY; do
    curl -s -o /dev/null "http://$host/1k/0"; curl -s -o /dev/null "http://$host/100k/0"
    seq 0 9999 | sed "s#^#url = \"http://$host/z/#; s#\$#\"\noutput = /dev/null#" > "$WORK/urls.cfg"
    curl -s --no-progress-meter --parallel --parallel-max 32 -K "$WORK/urls.cfg" >/dev/null
  done
}
warm
# Refuse to measure anything but hits of the right size.
check() { # host path size header
  local got
  got=$(curl -s -o /dev/null -D - -w 'status=%{http_code} size=%{size_download}\n' "http://$1$2")
  grep -q "status=200 size=$3" <<<"$got" || { echo "bad warm-up response from $1$2: $got" >&2; exit 1; }
  grep -qi "$4" <<<"$got" || { echo "not a cache hit from $1$2: $got" >&2; exit 1; }
}
for p in /1k/0:1024 /100k/0:102400 /z/17:1024; do
  check "$NGINX" "${p%%:*}" "${p##*:}" "x-cache: HIT"
  check "$EDGE" "${p%%:*}" "${p##*:}" "x-cache: Hit from bench"
  check "$COPY" "${p%%:*}" "${p##*:}" "x-cache: Hit from bench"
done

# CPU seconds (user + system, in clock ticks) used so far by the given processes.
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
run() { # name host path-or-script proxy pids...
  local name=$1 host=$2 target=$3 proxy=$4 out before after
  shift 4
  before=$(ticks "$@")
  if [[ $target == *.lua ]]; then out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -s "$target" "http://$host/"); else out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency "http://$host$target"); fi
  after=$(ticks "$@")
  local rps p50 p99 reqs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  # The proxy's own CPU per request: what it leaves to everything else on the machine.
  printf '%-8s %-11s %12s %10s %10s %14.1f\n' "$name" "$proxy" "$rps" "$p50" "$p99" \
    "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN {print t / hz / n * 1e6}')" |
    tee -a "$WORK/results"
}
printf '%-8s %-11s %12s %10s %10s %14s\n' workload proxy requests/s p50 p99 "proxy µs/req"
# The workers and the cache manager (the cache loader exits after its first minute).
NGINX_PIDS=$(pgrep -P "$(cat "$WORK/nginx.pid")" -f "nginx: (worker|cache manager)" | tr '\n' ' ')
for _ in $(seq "$ROUNDS"); do
  for w in 1k 100k zipf; do
    case $w in 1k) p=/1k/0 ;; 100k) p=/100k/0 ;; zipf) p="$WORK/zipf.lua" ;; esac
    # shellcheck disable=SC2086 # one argument per worker
    run "$w" "$NGINX" "$p" nginx $NGINX_PIDS
    run "$w" "$EDGE" "$p" cdnlab "$EDGE_PID"
    run "$w" "$COPY" "$p" cdnlab-copy "$COPY_PID"
  done
done
if ((ROUNDS > 1)); then
  echo "medians of $ROUNDS rounds:"
  printf '%-8s %-11s %12s %10s %14s\n' workload proxy requests/s "p99 (ms)" "proxy µs/req"
  for w in 1k 100k zipf; do
    for proxy in nginx cdnlab cdnlab-copy; do
      # p99 in ms whatever unit wrk printed it in.
      awk -v w="$w" -v p="$proxy" '$1 == w && $2 == p {
            ms = $5; if (ms ~ /us$/) ms = ms / 1000; else if (ms ~ /ms$/) ms = ms + 0; else ms = ms * 1000
            print $3, ms, $6 }' "$WORK/results" |
        awk -v w="$w" -v p="$proxy" '{ r[NR] = $1; l[NR] = $2; c[NR] = $3 }
          function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
          END { printf "%-8s %-11s %12.0f %10.2f %14.1f\n", w, p, median(r, NR), median(l, NR), median(c, NR) }'
    done
  done
fi
echo "cdnlab X-Cache counts:"; curl -s "http://$ADMIN/metrics" | grep -E '^cdnlab_edge_(requests_total|sent_bytes_total|sent_by_reference_bytes_total)' || true
echo "nginx cache statuses (sample): $(curl -s -D - -o /dev/null http://$NGINX/z/1 | grep -i x-cache)"
