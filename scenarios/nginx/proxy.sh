#!/bin/sh
# nginx as a PoP's proxy in a cdnlab scenario: a plain caching reverse proxy (proxy_cache,
# in memory under the run folder) on LISTEN in front of ORIGIN, in the foreground so that the
# runner can stop it. Used by `command = "sh scenarios/nginx/proxy.sh {listen} {origin} {dir}/{name}"`.
#   proxy.sh LISTEN ORIGIN DIR
set -eu
LISTEN=$1 ORIGIN=$2 DIR=$3
mkdir -p "$DIR/cache" "$DIR/logs"
DIR=$(cd "$DIR" && pwd)
USER_LINE=""
if [ "$(id -u)" = 0 ]; then USER_LINE="user root;"; fi
cat > "$DIR/nginx.conf" <<CONF
$USER_LINE
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nodelay on;
  keepalive_requests 1000000;
  proxy_cache_path $DIR/cache levels=1:2 keys_zone=c:64m max_size=1g inactive=1h use_temp_path=off;
  upstream origin { server $ORIGIN; keepalive 64; }
  server {
    listen $LISTEN;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache c;
      proxy_cache_lock on;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
exec nginx -c "$DIR/nginx.conf" -p "$DIR" -g 'daemon off;'
