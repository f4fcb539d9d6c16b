"""Standard Webhooks signatures: the scheme's own test vector, tolerance, rotation and tampering."""

from datetime import UTC, datetime, timedelta

import pytest

from webhooks.signing import SignatureError, sign, verify

# The test vector published with the Standard Webhooks reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = datetime.fromtimestamp(STAMP, UTC)


def headers(signature: str, stamp: int = STAMP, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_signature_matches_the_standard_webhooks_test_vector():
    assert sign(SECRET, MSG_ID, STAMP, BODY) == EXPECTED


def test_a_valid_signature_names_its_sender():
    senders = [("mosaic", ["whsec_" + "A" * 44]), ("lcs", [SECRET])]
    assert verify(senders, headers(EXPECTED), BODY, NOW) == ("lcs", MSG_ID)


@pytest.mark.parametrize("change", ["body", "id", "stamp", "signature"])
def test_anything_tampered_is_refused(change):
    body = BODY + b" " if change == "body" else BODY
    given = headers(EXPECTED, msg_id="msg_other" if change == "id" else MSG_ID,
                    stamp=STAMP + 1 if change == "stamp" else STAMP)  # fmt: skip
    if change == "signature":
        given["webhook-signature"] = "v1," + "A" * 44
    with pytest.raises(SignatureError, match="does not match"):
        verify([("lcs", [SECRET])], given, body, NOW)


@pytest.mark.parametrize("offset, ok", [(299, True), (-299, True), (301, False), (-301, False)])
def test_timestamps_more_than_five_minutes_away_are_refused(offset, ok):
    stamp = STAMP + offset
    given = headers(sign(SECRET, MSG_ID, stamp, BODY), stamp=stamp)
    if ok:
        assert verify([("lcs", [SECRET])], given, BODY, NOW)[0] == "lcs"
    else:
        with pytest.raises(SignatureError, match="5 minutes"):
            verify([("lcs", [SECRET])], given, BODY, NOW)


def test_several_signatures_and_secrets_during_a_rotation():
    new = "whsec_" + "B" * 44
    both = f"v1,{'C' * 44} {sign(new, MSG_ID, STAMP, BODY)}"  # an unknown one first, then the new secret's
    assert verify([("lcs", [SECRET, new])], headers(both), BODY, NOW)[0] == "lcs"
    assert verify([("lcs", [SECRET, new])], headers(EXPECTED), BODY, NOW)[0] == "lcs"  # the old one still valid
    with pytest.raises(SignatureError):
        verify([("lcs", [new])], headers(EXPECTED), BODY, NOW)  # once retired, the old one fails


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_named(missing):
    given = headers(EXPECTED)
    del given[missing]
    with pytest.raises(SignatureError, match="headers are required"):
        verify([("lcs", [SECRET])], given, BODY, NOW)


def test_a_non_numeric_timestamp_is_refused():
    with pytest.raises(SignatureError, match="whole seconds"):
        verify([("lcs", [SECRET])], headers(EXPECTED, stamp="soon"), BODY, NOW)  # type: ignore[arg-type]


def test_unversioned_signatures_are_ignored():
    with pytest.raises(SignatureError):
        verify([("lcs", [SECRET])], headers(EXPECTED.replace("v1,", "v2,")), BODY, NOW + timedelta(0))
