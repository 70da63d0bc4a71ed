"""gateway/inputs.py without a stack: depth counted on raw bytes, text rules, numbers, and the
gateway's answer to a service error of the bad-input kind (422, not 500)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nameko.exceptions import RemoteError

from gateway import inputs


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=30))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_depth_read_from_bytes_equals_the_parsed_depth(value):
    def depth(v) -> int:
        if isinstance(v, list):
            return 1 + max((depth(i) for i in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(i) for i in v.values()), default=0)
        return 0

    raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert inputs.json_depth(raw, stop_above=10_000) == depth(value)


def test_depth_ignores_brackets_and_escaped_quotes_inside_strings():
    assert inputs.json_depth(b'{"a": "[[[[\\"{{{{", "b": ["]]]"]}') == 2
    assert inputs.json_depth(_nested(100_000)) == inputs.JSON_MAX_DEPTH + 1  # stops counting early


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("first_name", "Zofia", None), ("first_name", "Zo\x00fia", "control_characters"),
    ("email", "a@b.pl\r\nBcc: x@y.pl", "control_characters"), ("email", "a\ud800@b.pl", "invalid_text"),
    ("message", "line one\r\nline two\tend", None), ("message", "nul \x00", "control_characters"),
    ("city", "Ł\u0085ódź", "control_characters"), ("subject", "\u2028", "control_characters"),
])  # fmt: skip
def test_text_rules(name, value, problem):
    assert inputs.text_problem(name, value) == problem


def test_query_numbers_are_plain_ascii_digits_in_range():
    from flask import Flask

    app = Flask(__name__)
    for raw, expected in (("7", 7), ("", 1), ("100000", 100_000)):
        with app.test_request_context(f"/?page={raw}"):
            assert inputs.query_int("page", 1) == expected
    for raw, reason in (("²", "invalid_number"), ("١٢", "invalid_number"), ("0", "out_of_range"),
                        ("99999999999999999999999", "invalid_number"), ("100001", "out_of_range"),
                        ("-1", "invalid_number")):  # fmt: skip
        with app.test_request_context("/", query_string={"page": raw}), pytest.raises(inputs.InputError) as refused:
            inputs.query_int("page", 1)
        assert (refused.value.status, refused.value.fields) == (422, {"page": reason})


def test_a_service_error_of_the_bad_input_kind_is_422_and_logged(monkeypatch, caplog):
    monkeypatch.setenv("SECRET_KEY", "test")
    from gateway.app import create_app

    app = create_app()

    @app.get("/api/v1/_boom/<kind>")
    def boom(kind: str):
        raise RemoteError(kind, "from a service")

    client = app.test_client()
    answer = client.get("/api/v1/_boom/UnicodeEncodeError")
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "invalid_input"
    assert "bad input reached a service" in caplog.text
    assert client.get("/api/v1/_boom/RuntimeError").status_code == 500


def test_a_multipart_part_whose_name_does_not_parse_is_422_not_500():
    """Found by the stateful fuzzer: `name="\\"` leaves werkzeug with a part named None."""
    from flask import Flask

    app = Flask(__name__)
    body = b'--B\r\nContent-Disposition: form-data; name="\\"\r\n\r\n{"": 1}\r\n--B\r\nContent-Disposition: ' \
           b'form-data; name="subject"\r\n\r\nx\r\n--B--\r\n'  # fmt: skip
    request = app.test_request_context("/", method="POST", data=body, content_type="multipart/form-data; boundary=B")
    with request, pytest.raises(inputs.InputError) as refused:
        inputs.check_request()
    assert refused.value.status == 422 and list(refused.value.fields.values()) == ["invalid_text"]
