#!/bin/sh
# Restore a dump written by deploy/backup.sh: restore.sh DUMP
#
# Into the database of SIGNAL_DATABASE_URL, which must be empty (a fresh `createdb`):
# restoring over live data would mix two histories, so a database with tables is refused.
# All or nothing: one transaction, stopped at the first error. The steps around it (stop
# the units, create the database, start them again) are in docs/operations.md.
set -eu

dump=${1:?usage: restore.sh DUMP}
[ -r "$dump" ] || { echo "restore.sh: cannot read $dump" >&2; exit 2; }
url=${SIGNAL_DATABASE_URL:?restore.sh: set SIGNAL_DATABASE_URL (the database to restore into)}
case $url in
    postgresql*) ;;
    *) echo "restore.sh: SIGNAL_DATABASE_URL is not a PostgreSQL database" >&2; exit 2 ;;
esac
libpq_url=$(printf '%s' "$url" | sed 's|^postgresql+[a-z0-9]*://|postgresql://|')

tables=$(psql --no-psqlrc --tuples-only --no-align --dbname="$libpq_url" \
    --command="select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != 0 ]; then
    echo "restore.sh: the database already has $tables tables; restore into a new, empty one" >&2
    exit 1
fi
# --no-owner: the tables belong to whoever restores (the server's user), whatever user
# owned them where the dump was made.
pg_restore --no-owner --single-transaction --exit-on-error --dbname="$libpq_url" "$dump"
echo "restore.sh: restored $dump"
