"""``pathways``: the command line. Each command parses, calls one service, and prints.

Every list/show command takes ``--json``. Errors print a plain message on stderr and exit 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from engine import services
from engine.bootstrap import Runtime, bootstrap
from engine.config import Settings
from engine.errors import FormInvalid, PathwaysError
from engine.persistence import database


def _runtime(ctx: click.Context) -> Runtime:
    if ctx.obj is None:
        ctx.obj = bootstrap(Settings.from_env())
    return ctx.obj


def _json_arg(text: str | None, what: str = "--data") -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg})", param_hint=what) from None
    if not isinstance(value, dict):
        raise click.BadParameter('must be a JSON object like {"looked_after_date": "2026-12-18"}', param_hint=what)
    return value


def _emit(value: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    click.echo(json.dumps(value, indent=2) if as_json else text(value))


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FormInvalid as exc:
            click.echo("Error: some answers need correcting:", err=True)
            for field, message in exc.errors.items():
                click.echo(f"  {field}: {message}", err=True)
            sys.exit(1)
        except PathwaysError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(1)

    return wrapper


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Permanence Pathways: run children's permanence procedures as BPMN pathways."""


# --- db ---------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database schema."""
    rt = _runtime(ctx)
    database.upgrade(rt.db)
    click.echo(f"database is up to date ({rt.db.url.render_as_string(hide_password=True)})")


# --- workflows ----------------------------------------------------------------------------
@main.group()
def workflows() -> None:
    """Pathway diagrams."""


@workflows.command("load")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--user", default="system", help="Who is publishing (recorded in the audit log).")
@click.pass_context
@_friendly
def workflows_load(ctx: click.Context, directory: Path | None, user: str) -> None:
    """Publish every .bpmn file in DIRECTORY (default: workflows/); unchanged files are skipped."""
    rt = _runtime(ctx)
    results = services.publish_directory(rt, directory or rt.settings.workflows_dir, user)
    for r in results:
        click.echo(f"{r.key} v{r.version} ({r.filename}): {'published' if r.changed else 'unchanged'}")
    if not results:
        click.echo("no .bpmn files found")


@workflows.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def workflows_validate(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Check diagram FILES as publishing would: one problem per line, exit 1 if there is any
    (bpmnlint's warnings are printed as advice and do not fail the check).

    Diagrams a file calls are looked up beside it and in workflows/."""
    rt = _runtime(ctx)
    folders = {path.parent for path in files} | {Path(rt.settings.workflows_dir)}
    readable = {p: p.read_bytes() for folder in folders for p in sorted(folder.glob("*.bpmn"))}
    any_problem = False
    for path in files:
        extra = services.library_from_files([(p.name, raw) for p, raw in readable.items() if p != path])
        found = services.validate_diagram(rt, path.name, path.read_bytes(), extra, use_published=False)
        prefix = f"{path}: " if len(files) > 1 else ""
        for problem in found:
            click.echo(f"{prefix}{'' if problem.blocks else 'warning: '}{problem}")
        errors = [p for p in found if p.blocks]
        any_problem |= bool(errors)
        if not errors and len(files) > 1:
            click.echo(f"{prefix}valid")
    if any_problem:
        sys.exit(1)
    if len(files) == 1:
        click.echo("valid")


@workflows.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def workflows_list(ctx: click.Context, as_json: bool) -> None:
    """Published pathways (newest version of each)."""
    rows = services.list_definitions(_runtime(ctx))
    _emit(rows, as_json, lambda rs: "\n".join(f"{r['key']}\tv{r['version']}\t{r['name']}" for r in rs) or "none")


# --- calendar -----------------------------------------------------------------------------
@main.group()
def calendar() -> None:
    """Working-day arithmetic (England and Wales bank holidays plus authority closures)."""


@calendar.command("add")
@click.argument("start")
@click.argument("amount")
@click.pass_context
@_friendly
def calendar_add(ctx: click.Context, start: str, amount: str) -> None:
    """Print START + AMOUNT, e.g. `calendar add 2026-12-18 20wd` (units wd, d, w, m)."""
    click.echo(services.add_amount(_runtime(ctx), start, amount).isoformat())


@calendar.command("close")
@click.argument("day")
@click.option("--reason", required=True)
@click.option("--user", default="system")
@click.pass_context
@_friendly
def calendar_close(ctx: click.Context, day: str, reason: str, user: str) -> None:
    """Add an authority closure day (not a working day from now on)."""
    closure = services.add_closure(_runtime(ctx), day, reason, user)
    click.echo(f"{closure['day']} is now a closure day")


@calendar.command("closures")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def calendar_closures(ctx: click.Context, as_json: bool) -> None:
    """List authority closure days."""
    rows = services.list_closures(_runtime(ctx))
    _emit(rows, as_json, lambda rs: "\n".join(f"{r['day']}\t{r['reason']}" for r in rs) or "none")


# --- cases --------------------------------------------------------------------------------
@main.group()
def case() -> None:
    """Cases: one pathway for one child reference."""


def _case_text(c: dict[str, Any]) -> str:
    lines = [f"case {c['id']}  {c['ref']}  {c['key']} v{c['version']}  {c['status']}"]
    if c.get("outcome"):
        lines.append(f"outcome: {c['outcome']}")
    if c.get("error"):
        lines.append(f"error at {c['error']['element']}: {c['error']['message']}")
    lines += [f"  task {t['id']}: {t['title']} [{t['role']}] due {t['due']}" for t in c["open_tasks"]]
    lines += [f"  deadline {d['name']}: {d['due']} {d['status']}: {d.get('said', '')} "
              f"({d['rule_status']}: {d['source']})"
              for d in c["deadlines"] if d["status"] not in ("moved", "cancelled")]  # fmt: skip
    lines += [f"  gate {g['name']}: not before {g['not_before']}: {g.get('said', '')} ({g['source']})"
              for g in c.get("gates", [])]  # fmt: skip
    return "\n".join(lines)


@case.command("start")
@click.argument("key")
@click.option("--ref", required=True, help="The child's case reference (never a name).")
@click.option("--data", default="{}", help="Start data as a JSON object.")
@click.option("--team", help="The team holding the case (its steps appear in that team's lists).")
@click.option("--user", default="system")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def case_start(ctx: click.Context, key: str, ref: str, data: str, team: str | None, user: str, as_json: bool) -> None:
    """Start pathway KEY for a child."""
    shown = services.start_case(_runtime(ctx), key, ref, _json_arg(data), user, team=team)
    _emit(shown, as_json, _case_text)


@case.command("show")
@click.argument("ref")
@click.option("--key", help="Which pathway, when the child has more than one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def case_show(ctx: click.Context, ref: str, key: str | None, as_json: bool) -> None:
    """Show the child's case: status, open steps, deadlines, gates and audit trail."""
    _emit(services.show_case(_runtime(ctx), ref, key), as_json, _case_text)


def _case_change(name: str, service: Callable[..., dict[str, Any]]) -> None:
    @case.command(name)
    @click.argument("ref")
    @click.option("--key")
    @click.option("--reason", default="", help="Why (recorded in the audit log; needed to suspend or cancel).")
    @click.option("--user", default="system")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    @_friendly
    def command(ctx: click.Context, ref: str, key: str | None, reason: str, user: str, as_json: bool) -> None:
        _emit(service(_runtime(ctx), ref, user, reason, key=key), as_json, _case_text)

    command.__doc__ = f"{name.capitalize()} the child's case."


_case_change("suspend", services.suspend_case)
_case_change("resume", services.resume_case)
_case_change("cancel", services.cancel_case)


@case.command("retry")
@click.argument("ref")
@click.option("--key")
@click.option("--data", default="{}", help="Corrected case data as a JSON object.")
@click.option("--user", default="system")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def case_retry(ctx: click.Context, ref: str, key: str | None, data: str, user: str, as_json: bool) -> None:
    """Run a case in error again (after fixing its cause)."""
    _emit(services.retry_case(_runtime(ctx), ref, user, _json_arg(data), key=key), as_json, _case_text)


@case.command("record-event")
@click.argument("ref")
@click.argument("element")
@click.option("--key", help="Which pathway, when the child has more than one.")
@click.option("--data", default="{}", help='The event\'s date as JSON, e.g. {"placement_move_date": "2027-03-25"}.')
@click.option("--reason", required=True, help="Why it is recorded here and not by the case system (audited).")
@click.option("--user", required=True, help="The team manager recording it.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def case_record_event(ctx: click.Context, ref: str, element: str, key: str | None, data: str, reason: str, user: str,
                      as_json: bool) -> None:  # fmt: skip
    """Record an event the child's pathway waits for (a placement move, consent withdrawn after placement)
    when the case system did not send it: the same checks as the case page."""
    from engine.services import accounts, oversight

    rt = _runtime(ctx)
    case_id = services.show_case(rt, ref, key)["id"]
    oversight.record_case_event(rt, accounts.person(rt, user), case_id, element, _json_arg(data), reason)
    _emit(services.show_case(rt, ref, key), as_json, _case_text)


# --- tasks --------------------------------------------------------------------------------
def _tasks_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{t['id']}\t{t['ref']}\t{t['key']}\t{t['title']}\t{t['role']}\t{t['assignee'] or '-'}\t{t['due']}"
             for t in rows]  # fmt: skip
    return "\n".join(lines) or "no tasks"


@main.group()
def siblings() -> None:
    """Brothers and sisters planned for together: one PPM for the group, a plan per child."""


def _siblings_text(group: dict[str, Any]) -> str:
    if not group.get("siblings"):
        return f"{group['ref']}: no brothers or sisters linked"
    lines = [f"{group['ref']}: sibling group {group['group_id']}"]
    for sibling in group["siblings"]:
        pathways = ", ".join(f"{c['key']} ({c['status']})" for c in sibling["cases"]) or "no pathway"
        lines.append(f"  {sibling['ref']}: {pathways}")
    return "\n".join(lines)


@siblings.command("link")
@click.argument("refs", nargs=-1, required=True)
@click.option("--user", default="system")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def siblings_link(ctx: click.Context, refs: tuple[str, ...], user: str, as_json: bool) -> None:
    """Link REFS (two or more children) as brothers and sisters; their groups merge."""
    _emit(services.link_siblings(_runtime(ctx), list(refs), user), as_json, _siblings_text)


@siblings.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def siblings_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show REF's brothers and sisters and their pathways."""
    _emit(services.siblings_of(_runtime(ctx), ref), as_json, _siblings_text)


@siblings.command("unlink")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the child is no longer planned with the group.")
@click.option("--user", default="system")
@click.pass_context
@_friendly
def siblings_unlink(ctx: click.Context, ref: str, reason: str, user: str) -> None:
    """Take REF out of its sibling group (the link is ended and kept, with the reason)."""
    shown = services.unlink_sibling(_runtime(ctx), ref, user, reason)
    click.echo(f"{ref} is no longer in sibling group {shown['group_id']}")


@main.command("tasks")
@click.option("--ref")
@click.option("--user")
@click.option("--role")
@click.option("--team")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tasks_list(
    ctx: click.Context, ref: str | None, user: str | None, role: str | None, team: str | None, as_json: bool
) -> None:
    """Open steps, soonest due first."""
    rows = services.list_tasks(_runtime(ctx), user=user, role=role, ref=ref, team=team)
    _emit(rows, as_json, _tasks_text)


@main.group()
def task() -> None:
    """One step."""


@task.command("complete")
@click.argument("task_id", type=int)
@click.option("--user", required=True)
@click.option("--data", default="{}", help="The step's answers as a JSON object.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def task_complete(ctx: click.Context, task_id: int, user: str, data: str, as_json: bool) -> None:
    """Complete step TASK_ID with its form answers."""
    done = services.complete_task(_runtime(ctx), task_id, _json_arg(data), user)
    _emit(done, as_json, lambda t: f"completed step {t['id']}: {t['title']}")


def _task_change(name: str, run: Callable[[Runtime, int, str, str | None], dict[str, Any]]) -> None:
    @task.command(name)
    @click.argument("task_id", type=int)
    @click.option("--user", required=True)
    @click.option("--to", "assignee", help="Assign to this user (assign only).")
    @click.pass_context
    @_friendly
    def command(ctx: click.Context, task_id: int, user: str, assignee: str | None) -> None:
        shown = run(_runtime(ctx), task_id, user, assignee)
        click.echo(f"step {shown['id']} ({shown['title']}): assignee {shown['assignee'] or 'none'}")

    command.__doc__ = f"{name.capitalize()} a step."


_task_change("claim", lambda rt, i, u, _a: services.claim_task(rt, i, u))
_task_change("unclaim", lambda rt, i, u, _a: services.unclaim_task(rt, i, u))
_task_change("assign", lambda rt, i, u, a: services.assign_task(rt, i, a or "", u))


@main.command("delay")
@click.option("--task", "task_id", type=int, help="The overdue step.")
@click.option("--deadline", "deadline_id", type=int, help="The breached deadline.")
@click.option("--reason", required=True, help="Why it is late (shown on the case).")
@click.option("--user", required=True)
@click.pass_context
@_friendly
def delay(ctx: click.Context, task_id: int | None, deadline_id: int | None, reason: str, user: str) -> None:
    """Record a reason for delay: it stops the escalation ladder for that step or deadline."""
    recorded = services.record_delay_reason(_runtime(ctx), reason, user, task_id=task_id, deadline_id=deadline_id)
    click.echo(f"reason for delay recorded on {recorded['element']}: escalation stopped")


@main.command("notifications")
@click.option("--user")
@click.option("--role")
@click.option("--team")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def notifications_list(ctx: click.Context, user: str | None, role: str | None, team: str | None, as_json: bool) -> None:
    """In-app notifications for a user, or for a role in a team."""
    rows = services.in_app(_runtime(ctx), role=role, team=team, user=user)
    _emit(rows, as_json, lambda rs: "\n".join(f"{r['created_at'][:16]}  {r['subject']}  {r['link']}" for r in rs)
          or "no notifications")  # fmt: skip


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The person's name as colleagues see it.")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--team", "teams", multiple=True, help="Repeat for several teams.")
@click.option("--email")
@click.option(
    "--sso",
    is_flag=True,
    help="No password: the person signs in through single sign-on (linked at their first sign-in by --email).",
)
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def users_add(ctx: click.Context, username: str, display_name: str, roles: tuple[str, ...], teams: tuple[str, ...],
              email: str | None, sso: bool, actor: str) -> None:  # fmt: skip
    """Create an account (the password is asked for, or read from PATHWAYS_PASSWORD)."""
    import os

    if sso and not email:
        raise click.UsageError("give --email with --sso: the account is linked at the person's first sign-in by it")
    password = None if sso else os.environ.get("PATHWAYS_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)  # fmt: skip
    from engine.services import accounts

    accounts.add_user(_runtime(ctx), username, password, list(roles), list(teams), display_name, actor, email)
    click.echo(f"created {username}")


@users.command("list")
@click.option("--team")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx: click.Context, team: str | None, as_json: bool) -> None:
    """Staff accounts, with roles and teams."""
    from engine.services import accounts

    rows = accounts.list_users(_runtime(ctx), team)
    _emit(rows, as_json, lambda rs: "\n".join(f"{u['username']}\t{','.join(u['roles'])}\t{','.join(u['teams'])}"
                                              for u in rs) or "no users")  # fmt: skip


@users.command("password")
@click.argument("username")
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def users_password(ctx: click.Context, username: str, actor: str) -> None:
    """Set a new password (asked for, or PATHWAYS_PASSWORD); every session of the account ends."""
    import os

    from engine.services import accounts

    password = os.environ.get("PATHWAYS_PASSWORD") or click.prompt("Password", hide_input=True,
                                                                    confirmation_prompt=True)  # fmt: skip
    ended = accounts.set_password(_runtime(ctx), username, password, actor)
    click.echo(f"password changed for {username}; {ended} session(s) ended")


@users.command("signout")
@click.argument("username")
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def users_signout(ctx: click.Context, username: str, actor: str) -> None:
    """End every session of USERNAME now (a lost laptop, a person leaving)."""
    from engine.services import staff_sessions

    ended = staff_sessions.revoke_sessions(_runtime(ctx), username, actor)
    click.echo(f"{ended} session(s) of {username} ended")


@users.command("sessions")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_sessions(ctx: click.Context, username: str, as_json: bool) -> None:
    """USERNAME's sessions, newest first: when each started, was last used, ends, or was ended and why."""
    from engine.services import staff_sessions

    rows = staff_sessions.list_sessions(_runtime(ctx), username)
    _emit(rows, as_json, lambda rs: "\n".join(
        f"{r['started'][:16]}  last {r['last_seen'][:16]}  "
        + (f"ended {r['revoked'][:16]}: {r['reason']}" if r["revoked"] else f"live until {r['ends'][:16]}")
        for r in rs) or "no sessions")  # fmt: skip


@users.command("demo")
@click.pass_context
def users_demo(ctx: click.Context) -> None:
    """Create the demo teams and one demo user per role (skipped when they exist)."""
    from engine.services import accounts

    created = accounts.ensure_demo_users(_runtime(ctx))
    click.echo(f"demo users created: {', '.join(created)}" if created else "demo users already exist")


@main.command("demo")
@click.pass_context
@_friendly
def demo(ctx: click.Context) -> None:
    """Create the demo users and a few demo cases (skipped when they exist); `make run` calls this."""
    from engine.services.demo import ensure_demo_data

    made = ensure_demo_data(_runtime(ctx))
    click.echo(f"demo users created: {', '.join(made['users']) or 'none (they exist)'}")
    click.echo(f"demo cases created: {', '.join(made['cases']) or 'none (they exist)'}")


@main.group()
def teams() -> None:
    """Teams."""


@teams.command("add")
@click.argument("name")
@click.option("--title", required=True)
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def teams_add(ctx: click.Context, name: str, title: str, actor: str) -> None:
    """Create a team (cases and steps are held by a team)."""
    from engine.services import accounts

    accounts.add_team(_runtime(ctx), name, title, actor)
    click.echo(f"created team {name}")


@teams.command("mailbox")
@click.argument("team")
@click.argument("role", required=False)
@click.argument("address", required=False)
@click.option("--remove", is_flag=True, help="Stop using the mailbox: email goes to each person again.")
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def teams_mailbox(ctx: click.Context, team: str, role: str | None, address: str | None, remove: bool,
                  actor: str) -> None:  # fmt: skip
    """Send a role's email in a team to one shared mailbox (TEAM ROLE ADDRESS), or list them (TEAM)."""
    from engine.services import recipients

    rt = _runtime(ctx)
    if role is None:
        found = [m for m in recipients.list_mailboxes(rt) if m["team"] == team]
        click.echo("\n".join(f"{m['role']}: {m['address']}" for m in found) or f"team {team} has no mailboxes")
        return
    if not remove and not address:
        raise click.UsageError("give the mailbox's ADDRESS, or --remove")
    recipients.set_mailbox(rt, team, role, None if remove else address, actor)
    click.echo(f"{team} {role}: " + ("email goes to each person" if remove else f"email goes to {address}"))


# --- single sign-on ---------------------------------------------------------------------------
@main.group("sso")
def sso_group() -> None:
    """Single sign-on: which directory groups give which roles."""


@sso_group.command("map-group")
@click.argument("group")
@click.option("--role", required=True, help="The account role the group gives, e.g. team_manager.")
@click.option("--team", help="The team it gives the role in (none: no team, e.g. a head of service).")
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def sso_map_group(ctx: click.Context, group: str, role: str, team: str | None, actor: str) -> None:
    """Members of GROUP (Entra ID: the group's object id) get ROLE (in TEAM) at their next sign-in."""
    from engine.services import sso

    sso.map_group(_runtime(ctx), group, role, team, actor)
    click.echo(f"group {group} gives {role}" + (f" in {team}" if team else ""))


@sso_group.command("unmap")
@click.argument("map_id", type=int)
@click.option("--user", "actor", default="admin")
@click.pass_context
@_friendly
def sso_unmap(ctx: click.Context, map_id: int, actor: str) -> None:
    """Stop a group giving a role (MAP_ID from `pathways sso groups`); members lose it at their next sign-in."""
    from engine.services import sso

    sso.unmap_group(_runtime(ctx), map_id, actor)
    click.echo(f"group map {map_id} removed")


@sso_group.command("groups")
@click.pass_context
def sso_groups(ctx: click.Context) -> None:
    """The groups that give roles."""
    from engine.services import sso

    found = sso.list_group_maps(_runtime(ctx))
    click.echo("\n".join(f"{m['id']}: {m['group_id']} gives {m['role']}" + (f" in {m['team']}" if m["team"] else "")
                         for m in found) or "no groups give roles yet")  # fmt: skip


# --- timers, serving ----------------------------------------------------------------------
@main.group()
def timers() -> None:
    """BPMN timers."""


@timers.command("fire")
@click.option("--now", "now_text", help="Fire as if it were this time (ISO 8601 with timezone).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def timers_fire(ctx: click.Context, now_text: str | None, as_json: bool) -> None:
    """Fire every timer that is due."""
    counts = services.fire_due_timers(_runtime(ctx), _parse_now(now_text) if now_text else None)
    _emit(counts, as_json, lambda c: ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in c.items()))


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the web app (development server; see README for gunicorn)."""
    import gc

    from web import create_app

    app = create_app(runtime=_runtime(ctx))
    gc.freeze()  # startup objects live as long as the process: no full collection walks them (web/wsgi.py)
    app.run(host=host, port=port)


# --- webhook senders and inbound events ------------------------------------------------------


@main.group()
def senders() -> None:
    """Case-management systems allowed to post signed events to /webhooks/events."""


@senders.command("add")
@click.argument("name")
@click.option("--user", default="system", help="Who is adding it (recorded in the audit log).")
@click.pass_context
@_friendly
def senders_add(ctx: click.Context, name: str, user: str) -> None:
    """Register sender NAME and print its signing secret (shown once: store it in the sender now)."""
    secret = services.add_sender(_runtime(ctx), name, user)
    click.echo(f"Sender {name} added. Its signing secret (shown once; give it to {name} only):")
    click.echo(secret)


@senders.command("rotate")
@click.argument("name")
@click.option("--user", default="system")
@click.pass_context
@_friendly
def senders_rotate(ctx: click.Context, name: str, user: str) -> None:
    """Add a second secret for NAME; both stay valid until the next rotation retires the older."""
    secret = services.rotate_sender(_runtime(ctx), name, user)
    click.echo(f"New secret for {name} (shown once). The previous secret stays valid until the next rotation:")
    click.echo(secret)


@senders.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def senders_list(ctx: click.Context, as_json: bool) -> None:
    """Senders, without their secrets."""
    rows = services.list_senders(_runtime(ctx))
    empty = "No senders yet: pathways senders add NAME"
    _emit(rows, as_json, lambda rs: "\n".join(
        f"{r['name']}  {'active' if r['active'] else 'disabled'}  {r['valid_secrets']} valid secret(s)  "
        f"last rotated {r['last_rotated_at'][:16]}" for r in rs) or empty)  # fmt: skip


@main.group()
def events() -> None:
    """Events received from case-management systems."""


@events.command("list")
@click.option("--status", help="received, applied, unmatched, parked, ignored or failed")
@click.option("--ref", help="One child's events.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def events_list(ctx: click.Context, status: str | None, ref: str | None, as_json: bool) -> None:
    found = services.list_events(_runtime(ctx), status=status, child_ref=ref, per_page=200)
    _emit(found["events"], as_json, lambda es: "\n".join(
        f"{e['id']}  {e['status']:<9}  {e['type']:<36} {e['child_ref']:<14} {e['occurred_at'][:16]}  "
        f"{e['action'] or e['reason'] or ''}" for e in es) or "No events")  # fmt: skip


@events.command("replay")
@click.argument("event_id", type=int)
@click.option("--user", default="system")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_friendly
def events_replay(ctx: click.Context, event_id: int, user: str, as_json: bool) -> None:
    """Apply an unmatched, parked, ignored or failed event again."""
    shown = services.replay_event(_runtime(ctx), event_id, user)
    _emit(shown, as_json, lambda e: f"Event {e['id']} is now {e['status']}: {e['action'] or e['reason'] or ''}")


# --- subscriptions and API tokens ----------------------------------------------------------------


@main.group()
def subscriptions() -> None:
    """Systems told of events here (signed deliveries from the worker)."""


@subscriptions.command("add")
@click.argument("url")
@click.option("--type", "types", multiple=True, required=True,
              help="task.created, task.overdue, deadline.breached, escalation.raised or case.completed")  # fmt: skip
@click.option("--description", default="")
@click.option("--user", default="system")
@click.pass_context
@_friendly
def subscriptions_add(ctx: click.Context, url: str, types: tuple[str, ...], description: str, user: str) -> None:
    """Subscribe URL to event types; prints the signing secret (shown once)."""
    made = services.add_subscription(_runtime(ctx), url, list(types), user, description)
    click.echo(
        f"Subscription {made['id']} added for {', '.join(made['event_types'])}. Its signing secret (shown once):"
    )
    click.echo(made["secret"])


@subscriptions.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def subscriptions_list(ctx: click.Context, as_json: bool) -> None:
    """Subscriptions with delivery counts, without their secrets."""
    rows = services.list_subscriptions(_runtime(ctx))
    _emit(rows, as_json, lambda rs: "\n".join(
        f"{r['id']}  {'active' if r['active'] else 'disabled'}  {r['url']}  {','.join(r['event_types'])}  "
        f"{' '.join(f'{k}={v}' for k, v in r['deliveries'].items())}" for r in rs)
        or "No subscriptions yet")  # fmt: skip


@main.group()
def tokens() -> None:
    """API tokens for other systems (each acts as a staff account, within its scopes)."""


@tokens.command("add")
@click.argument("name")
@click.option("--account", "username", required=True, help="The staff account the token acts as.")
@click.option("--scope", "scopes", multiple=True, required=True, help="e.g. tasks:read (repeat for several).")
@click.option("--expires-days", type=int, help="Days until it stops working (default: until revoked).")
@click.option("--user", default="system", help="Who is making it (recorded in the audit log).")
@click.pass_context
@_friendly
def tokens_add(ctx: click.Context, name: str, username: str, scopes: tuple[str, ...], expires_days: int | None,
               user: str) -> None:  # fmt: skip
    """Make API token NAME and print it (shown once; only its hash is kept)."""
    token = services.create_token(_runtime(ctx), name, username, list(scopes), user, expires_days)
    click.echo(f"Token {name} acts as {username} with {', '.join(sorted(scopes))}. The token (shown once):")
    click.echo(token)


@tokens.command("revoke")
@click.argument("name")
@click.option("--user", default="system")
@click.pass_context
@_friendly
def tokens_revoke(ctx: click.Context, name: str, user: str) -> None:
    """Stop token NAME working at once (it is kept, marked revoked)."""
    services.revoke_token(_runtime(ctx), name, user)
    click.echo(f"Token {name} revoked.")


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """Tokens, without the tokens themselves."""
    rows = services.list_tokens(_runtime(ctx))
    _emit(rows, as_json, lambda rs: "\n".join(
        f"{r['name']}  {r['prefix']}  as {r['username']}  {','.join(r['scopes'])}  "
        f"{'revoked' if r['revoked_at'] else 'last used ' + (r['last_used_at'] or 'never')[:16]}" for r in rs)
        or "No tokens yet")  # fmt: skip


@main.command("worker")
@click.option("--once", is_flag=True, help="Run one sweep and exit.")
@click.option("--interval", type=float, help="Seconds between sweeps (default TIMER_POLL_SECONDS).")
@click.option("--now", "now_text", help="Run as if it were this time (ISO 8601 with timezone): demos and drills.")
@click.pass_context
@_friendly
def worker(ctx: click.Context, once: bool, interval: float | None, now_text: str | None) -> None:
    """Run the worker: stored events, due timers, escalations, email and webhooks, every TIMER_POLL_SECONDS."""
    from dataclasses import replace

    from engine import clock
    from worker import run, tick

    if now_text:
        clock.install(drill_clock(clock.require_aware(_parse_now(now_text), "--now")))
    rt = _runtime(ctx)
    if interval:
        rt.settings = replace(rt.settings, timer_poll_seconds=interval)
    if once:
        counts = tick(rt)
        click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
        return
    run(rt)


def drill_clock(start: datetime, real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Callable[[], datetime]:
    """``--now``: the drill's time starts at ``start`` and moves on with real time, so a lease a drill
    grants runs out in drill time as it would in life (a frozen clock kept leased email pending for ever)."""
    began = real()
    return lambda: start + (real() - began)


def _parse_now(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2027-01-21T09:00:00+00:00", param_hint="--now") from None


if __name__ == "__main__":  # pragma: no cover
    main()
