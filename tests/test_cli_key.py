"""`promptkey key`: keys and material from files and stdin; one-line errors with the path, non-zero exit."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from promptkey import make_key
from promptkey.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples" / "requests"


def test_key_of_a_file_matches_make_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(request))
    assert main(["key", str(path)]) == 0
    assert capsys.readouterr().out.strip() == make_key(request)
    secret = tmp_path / "secret"
    secret.write_bytes(b"k3y")
    assert main(["key", str(path), "--namespace", "t", "--secret-file", str(secret)]) == 0
    assert capsys.readouterr().out.strip() == make_key(request, namespace="t", secret=b"k3y")


def test_material_from_stdin_keeps_big_integers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"model":"m","stream":true,"x":123456789012345678901234567890,"system":"s"}'
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["key", "-", "--material"]) == 0
    assert capsys.readouterr().out == (
        '{"model":"m","system":[{"text":"s","type":"text"}],"x":123456789012345678901234567890}\n'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"model": "m", "x": NaN}', "<stdin>: not json: NaN is not valid json"),
        ("{not json", "<stdin>: not json"),
        ('{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}', "lone surrogate U+D800"),
        ("[1, 2]", "a request must be a mapping"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(
    text: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["key"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("promptkey key: ")


def test_surrogate_error_names_the_path(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"model":"m","messages":[{"role":"user","content":"\\ud800"}]}'))
    assert main(["key"]) == 1
    assert "messages[0].content" in capsys.readouterr().err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["key", str(tmp_path / "nope.json")]) == 1
    assert "nope.json" in capsys.readouterr().err


def test_installed_command_and_example_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "promptkey", "key", str(EXAMPLES / "classifier.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == make_key(json.loads((EXAMPLES / "classifier.json").read_text()))
    script = Path(__file__).parent.parent / "examples" / "key_requests.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert "requests/s" in out and "DIFFERENT" not in out
    for name in ("classifier", "document", "extraction", "multi_turn", "tool_use"):
        assert name in out
