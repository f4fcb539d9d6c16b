"""A published diagram's element descriptions are built once per process (issue 18), never served
for another version, never kept while a version is still being published, and forgotten when a
runtime starts (a new database may reuse row ids)."""

from __future__ import annotations

from engine.bpmn.definition import PUBLISHED
from engine.persistence.models import Definition
from engine.services._common import diagram, element


def _info(name: str, called: bool = True) -> dict:
    step = {"id": "Task_A", "kind": "userTask", "name": name, "process": "p"}
    info = {"key": "p", "name": "P", "processes": ["p"], "called": [], "has_di": True, "elements": {"Task_A": step}}
    return {**info, "called_elements": {}} if called else info


def test_one_version_is_described_once_and_another_version_afresh():
    PUBLISHED.forget()
    first = Definition(id=7, checksum="aaa", info=_info("Write the plan"))
    assert element(first, "Task_A") is element(first, "Task_A")  # built once
    assert diagram(first) is diagram(first)
    again = Definition(id=7, checksum="aaa", info=_info("Write the plan"))  # the same row, read again
    assert element(again, "Task_A") is element(first, "Task_A")
    changed = Definition(id=7, checksum="bbb", info=_info("Write the care plan"))  # another version
    assert element(changed, "Task_A").name == "Write the care plan"
    assert element(first, "Task_A").name == "Write the plan"
    assert element(first, "Task_Missing") is None


def test_a_version_still_being_published_is_never_kept():
    PUBLISHED.forget()
    publishing = Definition(id=8, checksum="ccc", info=_info("Before", called=False))
    assert element(publishing, "Task_A").name == "Before"
    publishing.info = _info("After", called=False)
    assert element(publishing, "Task_A").name == "After"
    unsaved = Definition(checksum="ddd", info=_info("Unsaved"))  # no id yet
    assert element(unsaved, "Task_A") is not element(unsaved, "Task_A")


def test_a_new_runtime_forgets_every_description(tmp_path):
    from engine.bootstrap import bootstrap
    from engine.config import Settings

    kept = Definition(id=9, checksum="eee", info=_info("Kept"))
    before = element(kept, "Task_A")
    rt = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", mail_dir=tmp_path))
    assert element(kept, "Task_A") is not before
    rt.db.dispose()
