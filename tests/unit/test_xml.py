import pytest

from engine.bpmn.xml import MAX_BYTES, parse_bpmn
from engine.errors import DefinitionInvalid

BPMN_OPEN = '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'

HOSTILE = {
    "xxe": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + BPMN_OPEN + "<bpmn:process id='p'>&x;</bpmn:process></bpmn:definitions>",
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    + BPMN_OPEN + "<bpmn:process id='p' name='&b;'/></bpmn:definitions>",
    "external dtd": '<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd">'
    + BPMN_OPEN + "</bpmn:definitions>",
    "doctype in lower case": '<?xml version="1.0"?><!doctype d>' + BPMN_OPEN + "</bpmn:definitions>",
    "not xml": "this is not a diagram",
    "not bpmn": "<html><body/></html>",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_broken_xml_is_refused_with_a_reason(name):
    with pytest.raises(DefinitionInvalid) as caught:
        parse_bpmn(HOSTILE[name].encode(), "upload.bpmn")
    assert caught.value.message.startswith("upload.bpmn: ")


def test_huge_files_are_refused_before_parsing():
    content = (BPMN_OPEN + "<!--" + "x" * MAX_BYTES + "--></bpmn:definitions>").encode()
    with pytest.raises(DefinitionInvalid, match="at most"):
        parse_bpmn(content, "big.bpmn")


def test_a_plain_diagram_parses(diagrams):
    root = parse_bpmn((diagrams / "review_cycle.bpmn").read_bytes(), "review_cycle.bpmn")
    assert root.tag.endswith("definitions")
