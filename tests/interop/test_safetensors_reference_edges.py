"""paramdelta's safetensors parser against Hugging Face's own reader, on the
same bytes: the legal corners of the format (leading whitespace, trailing
padding, empty and zero-size tensors, metadata-only files, every dtype the
reference knows) and the near misses around them.

For each crafted file the reference's `safe_open` and `paramdelta inspect
--json` must agree: both refuse it, or both accept it and list the same
tensors (name, dtype, shape) and metadata. The few files paramdelta refuses
on purpose although the reference opens them are listed in DELIBERATE, each
with the part of the error that says why (README, section Safety)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from safetensors import safe_open

# The dtypes of the reference library (safetensors' Dtype enum) and their sizes.
REFERENCE_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}

ONE = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'


def image(header: str | bytes, data: bytes = b"") -> bytes:
    raw = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(raw)) + raw + data


def every_dtype() -> bytes:
    entries, offset = [], 0
    for name, size in REFERENCE_DTYPES.items():
        entries.append(f'"t_{name}":{{"dtype":"{name}","shape":[2],"data_offsets":[{offset},{offset + 2 * size}]}}')
        offset += 2 * size
    return image("{" + ",".join(entries) + "}", bytes(range(offset)))


CASES: dict[str, bytes] = {
    # Accepted by the reference.
    "plain": image(ONE, b"\0" * 4),
    "leading_spaces": image("  " + ONE, b"\0" * 4),
    "leading_json_whitespace": image("\n\t\r " + ONE, b"\0" * 4),
    "trailing_space_padding": image(ONE + "       ", b"\0" * 4),
    "trailing_newline": image(ONE + "\n", b"\0" * 4),
    "whitespace_on_both_sides": image(" {} "),
    "empty_header": image("{}"),
    "metadata_only": image('{"__metadata__":{"format":"pt","k":"v"}}'),
    "empty_metadata": image('{"__metadata__":{}}'),
    "null_metadata": image('{"__metadata__":null,' + ONE[1:], b"\0" * 4),
    "metadata_named_like_the_key": image('{"__metadata__":{"__metadata__":"x"}}'),
    "zero_size_tensor": image('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'),
    "zero_size_tensors_sharing_an_offset": image(
        '{"a":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},'
        '"b":{"dtype":"BF16","shape":[0,5],"data_offsets":[0,0]}}'),
    "zero_size_between_tensors": image(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        '"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},'
        '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "scalar": image('{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}', b"\0" * 4),
    "every_dtype": every_dtype(),
    "empty_tensor_name": image('{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "escaped_name": image('{"\\u0061\\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "entries_out_of_offset_order": image(
        '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},'
        '"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"\0" * 4),
    "whitespace_inside_the_json": image(
        '{ "a" : { "dtype" : "F32" , "shape" : [ 1 ] , "data_offsets" : [ 0 , 4 ] } }', b"\0" * 4),
    "utf8_name": image('{"é":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "escaped_nul_in_a_name": image('{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "zero_times_the_largest_dimension": image(
        '{"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}'),
    # Refused by the reference.
    "only_whitespace": image("   "),
    "form_feed_before_the_object": image("\f{}"),
    "raw_control_character": image('{"a\x01":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "duplicate_field_in_an_entry": image(
        '{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "null_metadata_value": image('{"__metadata__":{"k":null}}'),
    "empty_file": b"",
    "shorter_than_the_length": b"\0\0\0",
    "header_length_zero": image(""),
    "header_past_the_end": struct.pack("<Q", 100) + b"{}",
    "nul_padding": image(ONE + "\0\0\0", b"\0" * 4),
    "nul_then_garbage": image(ONE + "\0garbage", b"\0" * 4),
    "byte_order_mark": image(b"\xef\xbb\xbf" + ONE.encode(), b"\0" * 4),
    "not_an_object": image("[]"),
    "trailing_comma": image(ONE[:-1] + ",}", b"\0" * 4),
    "comment": image("{/* c */" + ONE[1:], b"\0" * 4),
    "invalid_utf8": image(b'{"a\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "lone_surrogate": image('{"\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "non_string_metadata": image('{"__metadata__":{"k":1}}'),
    "metadata_not_an_object": image('{"__metadata__":"pt"}'),
    "metadata_key_twice": image('{"__metadata__":{"k":"v"},"__metadata__":{"k":"w"}}'),
    "entry_not_an_object": image(ONE[:-1] + ',"b":1}', b"\0" * 4),
    "missing_field": image('{"a":{"dtype":"F32","shape":[1]}}', b"\0" * 4),
    "fractional_dimension": image('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', b"\0" * 4),
    "negative_zero_dimension": image('{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}'),
    "three_offsets": image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}', b"\0" * 4),
    "null_shape": image('{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}', b"\0" * 4),
    "lower_case_dtype": image('{"a":{"dtype":"bf16","shape":[1],"data_offsets":[0,2]}}', b"\0" * 2),
    "dtype_F8_E8M0": image('{"a":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]}}', b"\0"),
    "dtype_F4": image('{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', b"\0"),
    "dtype_C64": image('{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', b"\0" * 8),
    "bytes_disagree_with_shape": image('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4),
    "first_offset_not_zero": image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "end_before_begin": image('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}'),
    "zero_size_inside_a_tensor": image(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        '"z":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}', b"\0" * 4),
    "overlap": image('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                     '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', b"\0" * 3),
    "trailing_data": image(ONE, b"\0" * 8),
    "truncated_data": image(ONE, b"\0" * 2),
    "shape_product_overflows": image(
        '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'),
    "dimension_beyond_64_bits": image(
        '{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}'),
}

# Opened by the reference, refused by paramdelta on purpose: the part of the
# error that names the rule.
DELIBERATE = {
    # Which entry wins is up to the reader: two readers could see two different models.
    "duplicate_tensor_name": (
        image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
              '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "duplicate JSON key 'a'"),
    "duplicate_metadata_key": (image('{"__metadata__":{"k":"v","k":"w"}}'), "duplicate JSON key 'k'"),
    # A field this reader does not know may change how the bytes are read.
    "unknown_field_in_an_entry": (
        image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"byte_order":"big"}}', b"\0" * 4),
        "unknown field in tensor entry"),
}


def reference_view(path: Path):
    """The reference's reading: (tensors, metadata), or None when it refuses the file."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            tensors = {}
            for name in f.keys():
                piece = f.get_slice(name)
                tensors[name] = (piece.get_dtype(), list(piece.get_shape()))
            return tensors, f.metadata() or {}
    except Exception:  # the reference raises SafetensorError, or others for a short file
        return None


def paramdelta_view(cli: str, path: Path):
    """paramdelta's reading: (tensors, metadata), or the error line."""
    result = subprocess.run([cli, "inspect", "--json", str(path)], capture_output=True, encoding="utf-8",
                            errors="backslashreplace", timeout=60)
    if result.returncode != 0:
        assert result.returncode == 1, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("paramdelta: error: "), result.stderr
        return lines[0]
    report = json.loads(result.stdout)
    tensors = {t["name"]: (t["dtype"], t["shape"]) for t in report["tensors"]}
    return tensors, report["metadata"]


def write_case(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "case.safetensors"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_paramdelta_accepts_and_refuses_what_the_reference_does(name, tmp_path, paramdelta_cli):
    path = write_case(tmp_path, CASES[name])
    reference = reference_view(path)
    ours = paramdelta_view(paramdelta_cli, path)
    if reference is None:
        assert isinstance(ours, str), f"the reference refuses {name}, paramdelta accepts it: {ours}"
        assert "case.safetensors" in ours, ours
    else:
        assert not isinstance(ours, str), f"the reference opens {name}, paramdelta refuses it: {ours}"
        assert ours == reference


@pytest.mark.parametrize("name", sorted(DELIBERATE))
def test_paramdelta_refuses_on_purpose_what_the_reference_opens(name, tmp_path, paramdelta_cli):
    data, rule = DELIBERATE[name]
    path = write_case(tmp_path, data)
    assert reference_view(path) is not None, f"the reference now refuses {name} too: move it to CASES"
    ours = paramdelta_view(paramdelta_cli, path)
    assert isinstance(ours, str), f"paramdelta accepts {name}: {ours}"
    assert rule in ours and "case.safetensors" in ours, ours

