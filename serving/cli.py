"""Serving commands: `serve`, `keys create|list|revoke`, `officers create|list|disable|reset-password`,
`reviews export`, `cases list|show`. Heavy imports (fastapi,
uvicorn, sqlalchemy) happen inside the commands, so `xscreen --help` stays fast."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console

from xscreen import clitools
from xscreen.clitools import run_command

console = Console()

keys_app = typer.Typer(help="Station API keys (only hashes are stored; a key is shown once).", no_args_is_help=True)
officers_app = typer.Typer(help="Officers who sign in at /review (only password hashes are stored; a password is shown once).", no_args_is_help=True)
reviews_app = typer.Typer(help="Officers' reviews of screened scans.", no_args_is_help=True)
cases_app = typer.Typer(help="Investigation cases opened by holds (as GET /v1/cases shows them).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(officers_app, name="officers")
    app.add_typer(reviews_app, name="reviews")
    app.add_typer(cases_app, name="cases")


@contextmanager
def _database() -> Iterator[Any]:
    """The configured database's session factory, disposed of when the command is done."""
    from xscreen.serving.store.db import open_database
    from xscreen.settings import get_settings

    engine, sessions = open_database(get_settings().effective_database_url)
    try:
        yield sessions
    finally:
        engine.dispose()


def serve(
    host: Optional[str] = typer.Option(None, help="Bind address (default: settings.host, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default: settings.port, 8000)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model reference (default: settings.default_model)."),
    graceful_timeout: float = typer.Option(30.0, help="Seconds to finish in-flight scans on shutdown."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="One log line per request (the audit store keeps every scan either way)."),
) -> None:
    """Run the screening service (HTTP API under /v1, OpenAPI at /docs)."""
    def body() -> None:
        import uvicorn

        from xscreen.serving.api.app import create_app
        from xscreen.serving.api.server import uvicorn_config
        from xscreen.settings import get_settings
        from xscreen.vision.policy import load_policy
        from xscreen.vision.registry import resolve_model

        settings = get_settings()
        overrides = {k: v for k, v in {"host": host, "port": port, "default_model": model}.items() if v is not None}
        if overrides:
            settings = settings.model_copy(update=overrides)
        # Refuse at once, in one sentence, what the lifespan would otherwise fail on inside uvicorn's log.
        resolve_model(settings.default_model, models_dir=settings.models_dir)
        load_policy(settings.policy_file)
        app = create_app(settings)
        typer.echo(
            f"xscreen serving {settings.default_model} on http://{settings.host}:{settings.port} "
            f"(data in {settings.data_dir}; create a station key with `xscreen keys create --station NAME`)"
        )
        config = uvicorn_config(app, settings, timeout_graceful_shutdown=graceful_timeout, log_level="info", access_log=access_log)
        server = uvicorn.Server(config)
        server.run()
        if not server.started:  # the lifespan failed; uvicorn logged why (what uvicorn.run does too)
            raise typer.Exit(3)

    run_command(body)


@keys_app.command("create")
def keys_create(
    station: str = typer.Option(..., "--station", "-s", help="The station this key authenticates."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout."),
) -> None:
    """Create a key for a station and print it once."""
    def body() -> None:
        from xscreen.serving.auth import create_key

        with _database() as sessions:
            with sessions() as session:
                key, record = create_key(session=session, station=station)
        if as_json:
            typer.echo(json.dumps({"key": key, "key_id": record.key_id, "station": record.station}))
            return
        typer.echo(f"API key for station {record.station} (id {record.key_id}); shown once, store it now:")
        typer.echo(key)

    run_command(body)


@keys_app.command("list")
def keys_list(
    station: Optional[str] = typer.Option(None, "--station", "-s", help="Only this station's keys."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout."),
) -> None:
    """List keys (ids, stations, dates; never the keys themselves)."""
    def body() -> None:
        from xscreen.serving.auth import list_keys

        with _database() as sessions:
            with sessions() as session:
                rows = [
                    {"key_id": r.key_id, "station": r.station, "created_at": r.created_at.isoformat(),
                     "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
                    for r in list_keys(session=session, station=station)
                ]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = clitools.table("key id", "station", "created", "revoked")
        for r in rows:
            table.add_row(r["key_id"], r["station"], r["created_at"], r["revoked_at"] or "")
        console.print(table)

    run_command(body)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Optional[str] = typer.Argument(None, help="The key id shown by `keys list`."),
    station: Optional[str] = typer.Option(None, "--station", "-s", help="Revoke every active key of this station instead."),
) -> None:
    """Revoke one key, or all keys of a station; the service refuses them (403) from the next request."""
    def body() -> None:
        from xscreen.errors import InvalidRequest
        from xscreen.serving.auth import revoke_keys

        with _database() as sessions:
            with sessions() as session:
                revoked = revoke_keys(session=session, key_id=key_id, station=station)
        if not revoked:
            raise InvalidRequest(f"no active key matches {'key id ' + key_id if key_id else 'station ' + str(station)}")
        for r in revoked:
            typer.echo(f"revoked {r.key_id} (station {r.station})")

    run_command(body)


def _print_password(name: str, role: str, password: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"name": name, "role": role, "password": password}))
        return
    typer.echo(f"password for {role} {name}; shown once, hand it over now (sign in at /review):")
    typer.echo(password)


@officers_app.command("create")
def officers_create(
    name: str = typer.Option(..., "--name", "-n", help="The officer's sign-in name."),
    role: str = typer.Option("officer", "--role", help="officer (queue, review, audit) or admin (also keys and officers)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout."),
) -> None:
    """Create an officer and print a generated password once."""
    def body() -> None:
        from xscreen.serving.officers import create_officer

        with _database() as sessions:
            with sessions() as session:
                password, record = create_officer(session=session, name=name, role=role)
        _print_password(record.name, record.role, password, as_json)

    run_command(body)


@officers_app.command("list")
def officers_list(as_json: bool = typer.Option(False, "--json", help="Machine output on stdout.")) -> None:
    """List officers (names, roles, dates; never passwords)."""
    def body() -> None:
        from xscreen.serving.officers import list_officers

        with _database() as sessions:
            with sessions() as session:
                rows = [
                    {"name": o.name, "role": o.role, "created_at": o.created_at.isoformat(),
                     "disabled_at": o.disabled_at.isoformat() if o.disabled_at else None}
                    for o in list_officers(session=session)
                ]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = clitools.table("name", "role", "created", "disabled")
        for r in rows:
            table.add_row(r["name"], r["role"], r["created_at"], r["disabled_at"] or "")
        console.print(table)

    run_command(body)


@officers_app.command("disable")
def officers_disable(name: str = typer.Argument(..., help="The officer's name.")) -> None:
    """Disable an officer: their sessions end at once; their reviews stay attributed to them."""
    def body() -> None:
        from xscreen.serving.officers import disable_officer

        with _database() as sessions:
            with sessions() as session:
                record = disable_officer(session=session, name=name)
        typer.echo(f"disabled {record.name}")

    run_command(body)


@officers_app.command("reset-password")
def officers_reset_password(
    name: str = typer.Argument(..., help="The officer's name."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout."),
) -> None:
    """Print a new generated password once (enables a disabled officer again; ends their sessions)."""
    def body() -> None:
        from xscreen.serving.officers import reset_password

        with _database() as sessions:
            with sessions() as session:
                password, record = reset_password(session=session, name=name)
        _print_password(record.name, record.role, password, as_json)

    run_command(body)


@reviews_app.command("export")
def reviews_export(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the YOLO dataset (images/, labels/, data.yaml, reviews.jsonl)."),
    since: Optional[datetime] = typer.Option(None, help="Only reviews made at or after this time (UTC when no zone)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout."),
) -> None:
    """Export reviewed scans as a labeled dataset for retraining."""
    def body() -> None:
        from xscreen.serving.export import export_reviews
        from xscreen.serving.store.images import ImageStore
        from xscreen.settings import get_settings
        from xscreen.vision.taxonomy import load_taxonomy

        settings = get_settings()
        with _database() as sessions:
            summary = export_reviews(
                sessions=sessions, images=ImageStore(settings.effective_scan_store_url), taxonomy=load_taxonomy(), out_dir=out,
                since=since.replace(tzinfo=timezone.utc) if since is not None and since.tzinfo is None else since,
                max_pixels=settings.max_image_pixels,
            )
        result = {"out": str(summary.out_dir), "exported": summary.exported, "confirmed": summary.confirmed,
                  "false_alarms": summary.false_alarms, "skipped": summary.skipped}
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(
            f"exported {summary.exported} reviewed scans ({summary.confirmed} confirmed threats, {summary.false_alarms} false alarms) "
            f"to {summary.out_dir}; skipped {len(summary.skipped)} (see reviews.jsonl)"
        )

    run_command(body)



def _utc_option(value: Optional[datetime]) -> Optional[datetime]:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


@cases_app.command("list")
def cases_list(
    state: Optional[str] = typer.Option(None, help="open, assigned, seized or released."),
    category: Optional[str] = typer.Option(None, help="Only cases held for this taxonomy category."),
    item_ref: Optional[str] = typer.Option(None, "--item-ref", help="Only this parcel's cases."),
    since: Optional[datetime] = typer.Option(None, help="Opened at or after (UTC when no zone)."),
    until: Optional[datetime] = typer.Option(None, help="Opened before."),
    limit: int = typer.Option(50, min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout: the page GET /v1/cases answers."),
) -> None:
    """List cases, newest first."""
    def body() -> None:
        from pydantic import ValidationError

        from xscreen.errors import InvalidRequest, validation_summary
        from xscreen.serving.api.convert import case_out
        from xscreen.serving.api.schemas import CasePage, CaseQuery
        from xscreen.serving.store.cases import CaseFilter, list_cases
        from xscreen.settings import get_settings
        from xscreen.vision.taxonomy import load_taxonomy

        try:  # the API's own query model: the same values are refused the same way
            q = CaseQuery.model_validate({k: v for k, v in {"state": state, "category": category, "item_ref": item_ref, "since": _utc_option(since),
                                                            "until": _utc_option(until), "limit": limit}.items() if v is not None})
        except ValidationError as exc:
            raise InvalidRequest(f"invalid filter: {validation_summary(exc.errors())}") from exc
        taxonomy, base = load_taxonomy(), get_settings().public_url or ""
        with _database() as sessions:
            with sessions() as session:
                where = CaseFilter(state=q.state, category=q.category, since=q.since, until=q.until, item_ref=q.item_ref)
                records, total = list_cases(session=session, where=where, limit=q.limit, offset=q.offset)
                page = CasePage(items=[case_out(c, taxonomy, base) for c in records], total=total, limit=q.limit, offset=q.offset)
        if as_json:
            typer.echo(page.model_dump_json())
            return
        table = clitools.table("case", "state", "item_ref", "categories", "scans", "opened", "assignee")
        for c in page.items:
            table.add_row(c.case_id, c.state, c.item_ref or "", ", ".join(c.categories), str(len(c.scan_ids)), c.opened_at.isoformat(), c.assignee or "")
        console.print(table)
        typer.echo(f"{len(page.items)} of {page.total} cases")

    run_command(body)


@cases_app.command("show")
def cases_show(
    case_id: str = typer.Argument(..., help="The case id (case-...)."),
    as_json: bool = typer.Option(False, "--json", help="Machine output on stdout: the case as GET /v1/cases/{id} answers."),
) -> None:
    """One case: its parcel, scans with their detections and reasons, links, and history."""
    def body() -> None:
        from xscreen.serving.api.convert import case_out
        from xscreen.serving.store.cases import get_case
        from xscreen.settings import get_settings
        from xscreen.vision.taxonomy import load_taxonomy

        with _database() as sessions:
            with sessions() as session:
                case = case_out(get_case(session=session, case_id=case_id), load_taxonomy(), get_settings().public_url or "")
        if as_json:
            typer.echo(case.model_dump_json())
            return
        console.print(f"[bold]{case.case_id}[/bold] {case.state}  parcel {case.item_ref or '-'}  opened {case.opened_at.isoformat()} by {case.station}")
        console.print(f"declared: {case.declared_contents or '-'}  hs {case.hs_code or '-'}  value {case.declared_value if case.declared_value is not None else '-'}"
                      f"  origin {case.origin or '-'}  categories: {', '.join(case.categories)}  assignee: {case.assignee or '-'}")
        scans = clitools.table("scan", "verdict", "detections", "reasons", "annotated")
        for s in case.scans:
            found = ", ".join(f"{d.class_name} {d.score:.2f}" for d in s.detections)
            reasons = ", ".join(f"{r.rule}:{r.class_name or r.verdict}" for r in s.decision.reasons)
            scans.add_row(s.scan_id, s.decision.verdict, found, reasons, s.links.annotated)
        console.print(scans)
        history = clitools.table("at", "event", "state", "by", "note")
        for e in case.history:
            history.add_row(e.at.isoformat(), e.event, e.state, e.actor, e.note or "")
        console.print(history)

    run_command(body)
