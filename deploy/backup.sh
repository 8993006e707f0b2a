#!/bin/sh
# Back up Shelter Signal's PostgreSQL database: backup.sh DIR [KEEP]
#
# Writes DIR/shelter-signal-<UTC time>.dump (pg_dump's compressed custom format, which
# deploy/restore.sh reads) and deletes all but the newest KEEP dumps (default 14).
# The database is SIGNAL_DATABASE_URL, as the server uses it (shelter-signal-backup.service
# reads it from the same EnvironmentFile). pg_dump takes a consistent snapshot while the
# server keeps running. Exits non-zero, keeping the older dumps, if anything fails.
set -eu

dir=${1:?usage: backup.sh DIR [KEEP]}
keep=${2:-14}
case $keep in
    '' | *[!0-9]* | 0) echo "backup.sh: KEEP must be a whole number above 0, not '$keep'" >&2; exit 2 ;;
esac
url=${SIGNAL_DATABASE_URL:?backup.sh: set SIGNAL_DATABASE_URL (the database of the server)}
case $url in
    postgresql*) ;;
    *) echo "backup.sh: SIGNAL_DATABASE_URL is not a PostgreSQL database" >&2; exit 2 ;;
esac
# libpq (pg_dump) reads the same URL without SQLAlchemy's driver name: postgresql+psycopg://
libpq_url=$(printf '%s' "$url" | sed 's|^postgresql+[a-z0-9]*://|postgresql://|')

mkdir -p "$dir"
name="shelter-signal-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Written under a temporary name first: a failed or interrupted dump never looks finished.
pg_dump --format=custom --file="$dir/.$name.partial" --dbname="$libpq_url"
mv "$dir/.$name.partial" "$dir/$name"
echo "backup.sh: wrote $dir/$name"

# Rotation: the names sort by time, so everything after the newest KEEP goes.
ls -1 "$dir" | grep '^shelter-signal-[0-9TZ]*\.dump$' | sort -r | tail -n +"$((keep + 1))" |
    while read -r old; do
        rm -f "$dir/$old"
        echo "backup.sh: deleted $dir/$old"
    done
