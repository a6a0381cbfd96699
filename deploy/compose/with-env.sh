#!/bin/sh
# with-env.sh FILE COMMAND...: run COMMAND with the variables of FILE exported.
#
# The worker's ClickHouse DSN holds the writer's password, which the compose
# `init` service draws at first start; there is no REGSOSEK_* setting that reads
# a DSN from a file, so the init service writes `REGSOSEK_CLICKHOUSE_DSN=...`
# (shell-quoted, 0600, readable by the worker's uid only) and this wrapper
# exports it. The password then lives in the worker process's environment,
# not in the compose file or `docker inspect`.
set -eu
file=$1
shift
if [ ! -r "$file" ]; then
    echo "with-env: cannot read $file: did the init service run?" >&2
    exit 1
fi
set -a
. "$file"
set +a
exec "$@"
