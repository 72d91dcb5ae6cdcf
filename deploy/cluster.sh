#!/usr/bin/env bash
# durable-nats: a 3-node NATS JetStream cluster on loopback, for development and for trying
# replicas: 3 (see docs/operations.md, "Cluster mode").
#
#   deploy/cluster.sh start [DATA_DIR]   start n1..n3 in the background (default ./.nats-cluster)
#   deploy/cluster.sh status [DATA_DIR]  which nodes run, and the JetStream meta leader
#   deploy/cluster.sh stop [DATA_DIR]    stop the nodes by PID (SIGTERM, then SIGKILL after 10 s)
#
# Layout of DATA_DIR: n1/ n2/ n3/ (JetStream stores), pids/n{1,2,3}.pid, logs/n{1,2,3}.log.
# Clients connect to nats://127.0.0.1:14222,nats://127.0.0.1:14223,nats://127.0.0.1:14224.
# Readiness is checked without curl: each node's /healthz (monitoring ports 18222-18224) through
# node's built-in fetch, which on 2.9 answers 200 only once JetStream (and its meta leader) is up.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CMD="${1:-}"
DATA="${2:-${DN_CLUSTER_DIR:-./.nats-cluster}}"
BIN="${NATS_SERVER_BIN:-nats-server}"
NODES=(1 2 3)
URLS="nats://127.0.0.1:14222,nats://127.0.0.1:14223,nats://127.0.0.1:14224"

pidfile() { echo "$DATA/pids/n$1.pid"; }

running() {
  local f; f="$(pidfile "$1")"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

healthy() {
  # 200 from /healthz: the node serves clients and JetStream is ready on it.
  node -e "fetch('http://127.0.0.1:$((18221 + $1))/healthz').then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))" 2>/dev/null
}

meta_leader() {
  node -e "fetch('http://127.0.0.1:$((18221 + $1))/jsz').then(r => r.json()).then(j => { console.log((j.meta_cluster && j.meta_cluster.leader) || '-'); }, () => console.log('-'))" 2>/dev/null
}

start() {
  mkdir -p "$DATA/pids" "$DATA/logs"
  for i in "${NODES[@]}"; do
    if running "$i"; then echo "n$i already running (pid $(cat "$(pidfile "$i")"))"; continue; fi
    mkdir -p "$DATA/n$i"
    nohup "$BIN" -c "$HERE/cluster/n$i.conf" -sd "$DATA/n$i" >>"$DATA/logs/n$i.log" 2>&1 &
    echo $! >"$(pidfile "$i")"
    echo "n$i started (pid $!)"
  done
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    local ok=1
    for i in "${NODES[@]}"; do healthy "$i" || ok=0; done
    if ((ok)) && [[ "$(meta_leader 1)" != "-" ]]; then
      echo "JetStream cluster ready; meta leader $(meta_leader 1); servers: $URLS"
      return 0
    fi
    sleep 0.5
  done
  echo "cluster not ready after 60 s; see $DATA/logs" >&2
  return 1
}

stop() {
  for i in "${NODES[@]}"; do
    local f; f="$(pidfile "$i")"
    if ! running "$i"; then rm -f "$f"; echo "n$i not running"; continue; fi
    local pid; pid="$(cat "$f")"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "n$i killed (pid $pid)"; else echo "n$i stopped (pid $pid)"; fi
    rm -f "$f"
  done
}

status() {
  local up=0
  for i in "${NODES[@]}"; do
    if running "$i"; then
      up=$((up + 1))
      if healthy "$i"; then echo "n$i running (pid $(cat "$(pidfile "$i")")), healthy"; else echo "n$i running (pid $(cat "$(pidfile "$i")")), NOT healthy"; fi
    else
      echo "n$i stopped"
    fi
  done
  if ((up > 0)); then
    for i in "${NODES[@]}"; do if running "$i"; then echo "meta leader: $(meta_leader "$i")"; break; fi; done
  fi
  ((up == ${#NODES[@]}))
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status [DATA_DIR]" >&2; exit 2 ;;
esac
