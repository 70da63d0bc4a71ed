"""The attachment allow-list and file store, without the service."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from kernel.errors import CommandError
from services.support import attachments as files
from tests.support.helpers import EXE, PDF, PNG, attachment

JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)
GIF = b"GIF89a" + bytes(20)
ZIP = b"PK\x03\x04" + bytes(26)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("screen.PNG", PNG, "image/png"),
        ("photo.jpg", JPG, "image/jpeg"),
        ("photo.jpeg", JPG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("invoice.pdf", PDF, "application/pdf"),
        ("notes.txt", "Zażółć gęślą jaźń\r\n\tok".encode(), "text/plain"),
        ("error.log", b"\x1b[31mERROR\x1b[0m line 1\n", "text/plain"),
        ("site.zip", ZIP, "application/zip"),
    ],
)
def test_allowed_types_pass_with_the_type_we_decide(name, data, content_type):
    [prepared] = files.prepare([attachment(name, data, content_type="text/html")])
    assert prepared.meta["content_type"] == content_type
    assert prepared.meta["filename"] == name and prepared.meta["size"] == len(data)
    assert files.ID_RE.match(prepared.meta["attachment_id"])
    assert prepared.data == data


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>", "attachment_type_not_allowed"),
        ("image.svg", b"<svg onload=alert(1)>", "attachment_type_not_allowed"),
        ("setup.exe", EXE, "attachment_type_not_allowed"),
        ("noextension", b"hello", "attachment_type_not_allowed"),
        (".png", PNG, "attachment_type_not_allowed"),
        ("setup.png", EXE, "attachment_content_mismatch"),
        ("page.pdf", b"<html></html>", "attachment_content_mismatch"),
        ("tool.txt", EXE, "attachment_content_mismatch"),
        ("empty.txt", b"", "attachment_empty"),
    ],
)
def test_refused(name, data, code):
    with pytest.raises(CommandError) as err:
        files.prepare([attachment(name, data)])
    assert err.value.fields == {"attachments.0": code}


def test_one_bad_file_refuses_the_whole_message():
    with pytest.raises(CommandError) as err:
        files.prepare([attachment("ok.png", PNG), attachment("bad.png", EXE)])
    assert err.value.fields == {"attachments.1": "attachment_content_mismatch"}


def test_size_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", str(len(PNG)))
    assert files.prepare([attachment("a.png", PNG)])
    with pytest.raises(CommandError) as err:
        files.prepare([attachment("a.png", PNG + b"\x00")])
    assert err.value.fields == {"attachments.0": "attachment_too_large"}


def test_default_limit_is_five_mebibytes(monkeypatch):
    monkeypatch.delenv("ATTACHMENT_MAX_BYTES", raising=False)
    assert files.max_bytes() == 5 * 1024 * 1024


def test_at_most_five_per_message():
    assert len(files.prepare([attachment(f"{i}.png", PNG) for i in range(5)])) == 5
    with pytest.raises(CommandError) as err:
        files.prepare([attachment(f"{i}.png", PNG) for i in range(6)])
    assert err.value.fields == {"attachments": "too_many_attachments"}


def test_malformed_payloads():
    bad = [{"filename": "a.png"}, "a.png", {"filename": "a.png", "data_base64": "not base64!!"}]
    with pytest.raises(CommandError) as err:
        files.prepare(bad)
    assert set(err.value.fields.values()) == {"invalid_attachment"}


def test_path_parts_and_control_characters_leave_the_display_name():
    assert files.clean_filename("..\\..\\windows\\evil\x00.png") == "evil.png"
    assert files.clean_filename("../../etc/passwd") == "passwd"
    long = files.clean_filename("a" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


def test_store_names_files_by_id_only_and_readable_by_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTACHMENTS_DIR", str(tmp_path))
    [prepared] = files.prepare([attachment("../../x.png", PNG)])
    files.store([prepared])
    [path] = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert path.name == prepared.meta["attachment_id"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert files.read(prepared.meta["attachment_id"]) == PNG
    files.remove([prepared.meta["attachment_id"]])
    assert files.read(prepared.meta["attachment_id"]) is None


def test_read_refuses_anything_but_an_id(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTACHMENTS_DIR", str(tmp_path / "store"))
    (tmp_path / "secret").write_bytes(b"x")
    assert files.read("../secret") is None
    assert files.read(base64.b16encode(b"x" * 16).decode()) is None  # upper-case hex is not an id
