"""Sites, programs and their history from the files a city publishes, read through its
profile (server/imports/profile.py).

Each program's newest record (by its night, then its line) sets the program, and each site's
newest record of any of its programs sets the site; with `history`, every record that is a
night's count also becomes a reading (replay.py). Keys are the profile's source and the file's
own keys (toronto:1320), so re-importing updates in place and is idempotent. Rows that cannot
be trusted are reported with their line and left out; rows with a gap we can live with load
with a warning. Nothing is committed here: the caller commits the whole import or nothing
(`--dry-run`, too many errors).
"""

import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlmodel import Session, select

from server.imports import replay
from server.imports.files import load_centroids, load_locations
from server.imports.profile import Profile
from server.imports.records import Record, read
from server.models import Program, Sector, Site, utcnow

SHOWN_LINES = 5  # first lines shown per reason in the summary: enough to find the pattern


@dataclass
class Report:
    rows: int = 0
    sites_added: int = 0
    programs_added: int = 0
    programs_updated: int = 0
    readings_added: int = 0
    readings_known: int = 0  # nights of a program replayed before: left as they are
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): not loaded
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): loaded
    unplaced: list[str] = field(default_factory=list)  # site names without coordinates

    def by_reason(self, found: list[tuple[int, str]]) -> list[tuple[str, int, list[int]]]:
        """(reason, rows, first lines) with the values taken out of each reason, so that
        12,897 rows refused for one cause read as one line; most frequent first."""
        groups: dict[str, list[int]] = defaultdict(list)
        for line, reason in found:
            groups[_pattern(reason)].append(line)
        ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0]))
        return [(reason, len(lines), lines[:SHOWN_LINES]) for reason, lines in ranked]


class TooManyErrors(ValueError):
    pass


def _pattern(reason: str) -> str:
    return re.sub(r"-?\d+", "N", re.sub(r"'[^']*'", "'…'", reason))


def import_file(
    session: Session,
    path: Path,
    profile: Profile,
    site_list: Path | None = None,
    locations: Path | None = None,
    centroids: Path | None = None,
    history: bool = False,
    nights: Collection[date] | None = None,
    max_errors: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Load `path` into the session (not committed). TooManyErrors past `max_errors` refused
    rows; ValueError when a file cannot be read at all."""
    report = Report()
    places, areas = load_locations(locations), load_centroids(centroids)  # before a long read
    newest: dict[str, Record] = {}  # per program
    newest_site: dict[str, Record] = {}  # per site: its newest row of any program
    counts: list[Record] = []
    for record in read(path, profile, report.errors, site_list, _counter(report, progress)):
        if max_errors is not None and len(report.errors) > max_errors:
            raise TooManyErrors(f"more than {max_errors} rows refused: nothing imported")
        report.warnings += [(record.line, w) for w in record.warnings]
        for found, key in ((newest, record.program_key), (newest_site, record.site_key)):
            known = found.get(key)
            if known is None or (record.night or date.min) >= (known.night or date.min):
                found[key] = record
        if history and record.night and (nights is None or record.night in nights):
            counts.append(record)
    if max_errors is not None and len(report.errors) > max_errors:
        raise TooManyErrors(f"more than {max_errors} rows refused: nothing imported")
    report.warnings = sorted(set(report.warnings))  # a split row warns once, not per program
    sites: dict[str, Site] = {}
    programs: dict[str, Program] = {}
    for key, record in sorted(newest.items()):
        site = sites.get(record.site_key)
        if site is None:
            site = _site(
                session, newest_site[record.site_key], profile.source, places, areas, report
            )
            sites[record.site_key] = site
        programs[key] = _program(session, site, record, profile.source, report)
    session.flush()
    if counts:
        replay.store(session, counts, programs, profile, report)
    return report


def _counter(report: Report, progress: Callable[[int], None] | None) -> Callable[[int], None]:
    def count(rows: int) -> None:
        report.rows = rows
        if progress:
            progress(rows)

    return count


def _site(session, record: Record, source: str, places, areas, report: Report) -> Site:
    source_id = f"{source}:{record.site_key}"
    site = session.exec(select(Site).where(Site.source_id == source_id)).first()
    fields = record.site
    if site is None:
        site = Site(source_id=source_id, name=fields["name"])
        report.sites_added += 1
    site.sqlmodel_update(fields)
    address = (fields["address"] or "").lower()
    found = (
        record.point
        or places.get(record.site_key)
        or places.get(address)
        or areas.get((fields["postal_code"] or "")[:3])
    )
    if found and not site.confidential:  # a hidden site's place is never stored from a file
        site.lat, site.lon = found
    if site.lat is None and not site.confidential:
        report.unplaced.append(site.name)
    _mark_edited(session, site, site)
    session.add(site)
    session.flush()
    return site


def _program(session, site: Site, record: Record, source: str, report: Report) -> Program:
    source_id = f"{source}:{record.program_key}"
    program = session.exec(select(Program).where(Program.source_id == source_id)).first()
    if program is None:
        program = Program(
            source_id=source_id, site_id=site.id, name="", sector=Sector.mixed, capacity=0
        )
        report.programs_added += 1
    program.site_id = site.id
    program.sqlmodel_update(record.program)
    # Like the city's funding capacity, our capacity holds what is out of service: where the
    # city funds more than it has in service, the gap is out of service (replay.py).
    funded = max(record.funding or 0, record.program["capacity"])
    program.capacity = funded
    program.out_of_service = funded - record.program["capacity"]
    if program.id is not None and session.is_modified(program):
        report.programs_updated += 1  # changed by the file: an unchanged one is not counted
    _mark_edited(session, program, site)
    session.add(program)
    return program


def _mark_edited(session, row, site) -> None:
    """An existing site or program the file changed: stamp the site's edit time, as an admin
    edit does, so the event stream resends the site and cached lists are rebuilt."""
    if row.id is not None and session.is_modified(row):
        site.edited_at = utcnow()
        session.add(site)
