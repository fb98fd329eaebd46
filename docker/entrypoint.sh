#!/bin/bash
# Starts tumbler-server listening on every interface of the container. A node reachable from
# other hosts needs a password (or an ACL file): set TUMBLER_PASSWORD, or pass your own
# directives (`docker run … tumbler --protected-mode no` only on a private network).
set -euo pipefail
args=(/etc/tumbler/tumbler.conf --bind "0.0.0.0 ::" --dir /data --daemonize no)
if [ -n "${TUMBLER_PASSWORD:-}" ]; then
  args+=(--requirepass "$TUMBLER_PASSWORD")
fi
exec tumbler-server "${args[@]}" "$@"
