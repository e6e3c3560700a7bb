"""Vectorised text checks agree with per-value Python: the UTF-8 check of ``detect_encoding`` (block cuts
included) with the strict decoder, ``rules._text_faults`` with a character-by-character scan."""

from __future__ import annotations

import io
import random

import pytest

from flit_pipelines.sources import csv_format


def _python_valid(data: bytes) -> bool:
    try:
        data.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("block", [1, 2, 3, 5, 7, 64])
def test_arrow_check_matches_pythons_decoder(monkeypatch, block):
    monkeypatch.setattr(csv_format, "_DETECT_BLOCK", block)
    rng = random.Random(block)
    pieces = ["a", "é", "€", "😀", "日", "\n", ","]
    cases = [b"", "é".encode()[:1], "😀".encode()[:3] + b"a", b"\xed\xa0\x80", b"\xc0\xaf", b"\xff", b"a\x80"]
    for _ in range(300):
        data = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))).encode()
        if data and rng.random() < 0.4:  # break one byte
            at = rng.randrange(len(data))
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
        cases.append(data)
    for data in cases:
        assert csv_format._valid_utf8(io.BytesIO(data)) == _python_valid(data), data


def test_a_valid_file_is_utf8_without_python_decoding(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("Id,NAME\n1,Zoë\n2,日本\n".encode())
    assert csv_format.detect_encoding(path).encoding == "utf-8"
    path.write_bytes(b"Id,NAME\n1,Zo\xeb\n")  # cp1252: the counting path decides
    assert csv_format.detect_encoding(path).how == "charset-normalizer"


def test_text_faults_match_a_per_value_check():
    import pyarrow as pa

    from flit_pipelines.sources.rules import _text_faults

    rng = random.Random(3)
    alphabet = ["a", "é", "\t", "\n", "\r", "\x00", "\x01", "\x1f", "\x7f", " ", "日", "\x0b"]
    values = [None, ""] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(2000)]
    nul, ctrl, longer = _text_faults(pa.array(values, pa.string()), 4)
    want_nul = [v is not None and "\x00" in v for v in values]
    want_ctrl = [v is not None and any((ord(c) < 32 and c not in "\t\n\r\x00") or c == "\x7f" for c in v)
                 for v in values]
    want_longer = [v is not None and len(v) > 4 for v in values]
    assert nul.tolist() == want_nul and ctrl.tolist() == want_ctrl and longer.tolist() == want_longer
