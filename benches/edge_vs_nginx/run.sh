#!/usr/bin/env bash
# Loopback load run: cdnlab's edge against nginx proxy_cache, same origin, same load.
#
#   bash benches/edge_vs_nginx/run.sh [DURATION] [CONNECTIONS]
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
WORK=$(mktemp -d /dev/shm/cdnlab-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run unprivileged and must read the files
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -c "$WORK/nginx.conf" -p "$WORK" -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT

ORIGIN=127.0.0.1:9101 NGINX=127.0.0.1:9102 EDGE=127.0.0.1:9103 ADMIN=127.0.0.1:9104

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

cat > "$WORK/edge.toml" <<CONF
listen = "$EDGE"
admin_listen = "$ADMIN"
name = "bench"
[cache]
policy = "lru"
capacity = "1GiB"
max_object_size = "1MiB"
[[origin]]
name = "origin"
url = "http://$ORIGIN"
[[behavior]]
path = "*"
CONF
./target/release/cdnlab edge --config "$WORK/edge.toml" 2> "$WORK/logs/edge.log" &
for _ in $(seq 50); do curl -s "http://$ADMIN/healthz" >/dev/null && break; sleep 0.1; done

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
  for host in $NGINX $EDGE; do
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
done

run() { # name host path-or-script
  local out
  if [[ $3 == *.lua ]]; then out=$(wrk -t1 -c"$CONNS" -d"$DUR" --latency -s "$3" "http://$2/"); else out=$(wrk -t1 -c"$CONNS" -d"$DUR" --latency "http://$2$3"); fi
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-8s %-6s %12s %10s %10s\n' "$1" "$4" "$rps" "$p50" "$p99"
}
printf '%-8s %-6s %12s %10s %10s\n' workload proxy requests/s p50 p99
for w in 1k 100k zipf; do
  case $w in 1k) p=/1k/0 ;; 100k) p=/100k/0 ;; zipf) p="$WORK/zipf.lua" ;; esac
  run "$w" "$NGINX" "$p" nginx
  run "$w" "$EDGE" "$p" cdnlab
done
echo "cdnlab X-Cache counts:"; curl -s "http://$ADMIN/metrics" | grep '^cdnlab_edge_requests_total' || true
echo "nginx cache statuses (sample): $(curl -s -D - -o /dev/null http://$NGINX/z/1 | grep -i x-cache)"
