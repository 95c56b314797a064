"""The file-level functions: one per command, the same defaults, results
whose to_dict() is the command's --json, and files identical to the
command's bit for bit."""

from __future__ import annotations

import json

import pytest

import paramdelta
from package_support import TINY, cli_json, without_timing


def tensor_bytes(path):
    checkpoint = paramdelta.open(path)
    return {name: (checkpoint.dtype(name), checkpoint.tensor(name, raw=True).tobytes()) for name in checkpoint}


@pytest.mark.parametrize("dtype", ["BF16", "F16", "F32"])
def test_compute_writes_the_programs_delta_and_reports_its_json(tmp_path, model_pair, cli, dtype):
    m = model_pair(dtype)
    result = paramdelta.compute(m["base"], m["post"], tmp_path / "py.delta", threads=2)
    expected = cli_json(cli, "compute", "--base", m["base"], "--post", m["post"], "-o", tmp_path / "cli.delta")
    got = without_timing(result.to_dict())
    want = without_timing(expected)
    assert got.pop("output").endswith("py.delta") and want.pop("output").endswith("cli.delta")
    want["threads"] = got["threads"]
    assert got == want
    assert tensor_bytes(tmp_path / "py.delta") == tensor_bytes(tmp_path / "cli.delta")
    assert result.operation == "compute" and result.lossless and result.encoding == expected["encoding"]


@pytest.mark.parametrize("dtype", ["BF16", "F16", "F32"])
def test_apply_with_a_scale_writes_the_programs_model(tmp_path, model_pair, cli, dtype):
    m = model_pair(dtype)
    paramdelta.compute(m["base"], m["post"], tmp_path / "d")
    result = paramdelta.apply(m["new"], tmp_path / "d", tmp_path / "py", scale=0.5)
    cli("apply", "--base", m["new"], "--delta", tmp_path / "d", "-o", tmp_path / "cli", "--scale", "0.5")
    assert tensor_bytes(tmp_path / "py") == tensor_bytes(tmp_path / "cli")
    assert result.operation == "apply" and result.tensor_count == 4


def test_apply_to_a_single_file_with_another_dtype(tmp_path, model_pair, cli):
    m = model_pair("F32")
    paramdelta.compute(m["base"], m["post"], tmp_path / "d")
    paramdelta.apply(m["new"], tmp_path / "d", tmp_path / "py.safetensors", dtype="bf16")
    cli("apply", "--base", m["new"], "--delta", tmp_path / "d", "-o", tmp_path / "cli.safetensors", "--dtype", "bf16")
    assert tensor_bytes(tmp_path / "py.safetensors") == tensor_bytes(tmp_path / "cli.safetensors")


def test_combine_with_weights_and_a_method_writes_the_programs_delta(tmp_path, model_pair, cli):
    m = model_pair("BF16")
    paramdelta.compute(m["base"], m["post"], tmp_path / "d1")
    paramdelta.compute(m["base"], m["new"], tmp_path / "d2")
    for method, extra in (("sum", {}), ("dare", {"density": 0.5, "seed": 3})):
        py = tmp_path / f"py-{method}"
        result = paramdelta.combine([tmp_path / "d1", tmp_path / "d2"], py, weights=[0.7, 0.3], method=method, **extra)
        args = ["combine", "--delta", tmp_path / "d1", "--delta", tmp_path / "d2", "--weight", "0.7", "--weight",
                "0.3", "--method", method, "-o", tmp_path / f"cli-{method}"]
        if extra:
            args += ["--density", "0.5", "--seed", "3"]
        want = without_timing(cli_json(cli, *args))
        got = without_timing(result.to_dict())
        got.pop("output"), want.pop("output")
        want["threads"] = got["threads"]
        assert got == want
        assert tensor_bytes(py) == tensor_bytes(tmp_path / f"cli-{method}")


def test_a_seed_for_the_sum_is_a_usage_error_as_on_the_command_line(tmp_path, model_pair):
    m = model_pair("F32")
    paramdelta.compute(m["base"], m["post"], tmp_path / "d1")
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.combine([tmp_path / "d1", tmp_path / "d1"], tmp_path / "out", seed=1)
    assert caught.value.option == "seed"
    assert str(caught.value) == "seed applies to the dare and dare-ties methods only"


def test_verify_reports_exactness_like_the_program(tmp_path, model_pair, cli):
    m = model_pair("BF16")
    paramdelta.compute(m["base"], m["post"], tmp_path / "d")
    result = paramdelta.verify(m["base"], tmp_path / "d", m["post"])
    want = without_timing(cli_json(cli, "verify", "--base", m["base"], "--delta", tmp_path / "d", "--expect", m["post"]))
    got = without_timing(result.to_dict())
    want["threads"] = got["threads"]
    assert got == want
    assert result.exact and result.differing_elements == 0 and result.base_matches_manifest
    off = paramdelta.verify(m["new"], tmp_path / "d", m["post"])
    assert not off.exact and off.differing_elements > 0


def test_analyze_reports_the_programs_numbers_and_writes_the_page(tmp_path, cli):
    delta = tmp_path / "d"
    paramdelta.compute(TINY / "base-v1", TINY / "chat-v1", delta)
    result = paramdelta.analyze(delta, base=TINY / "base-v1", new_base=TINY / "base-v2", html=tmp_path / "a.html")
    want = cli_json(cli, "analyze", "--delta", delta, "--base", TINY / "base-v1", "--new-base", TINY / "base-v2")
    got = without_timing(result.to_dict())
    want = without_timing(want)
    assert got.pop("output").endswith("a.html")
    got.pop("bytes_written"), want.pop("bytes_written")
    want["threads"] = got["threads"]
    assert got == want
    assert (tmp_path / "a.html").read_text().startswith("<!DOCTYPE html>")
    assert result.total["drift"]["ratio"] == pytest.approx(0.641, abs=5e-4)


def test_inspect_is_the_programs_json(cli):
    for path in (TINY / "base-v1", TINY / "base-v1" / "model.safetensors"):
        assert paramdelta.inspect(path).to_dict() == json.loads(cli("inspect", path, "--json").stdout)
    result = paramdelta.inspect(TINY / "base-v1")
    assert result.kind == "model" and result.parameters > 3_000_000


def test_copy_is_the_programs_cp(cli, tmp_path):
    result = paramdelta.copy(TINY / "base-v1", tmp_path / "copy")
    program = json.loads(cli("cp", TINY / "base-v1", tmp_path / "by-program", "--json").stdout)
    assert {k: v for k, v in result.to_dict().items() if k not in ("seconds", "throughput_gb_per_s", "output")} == \
        {k: v for k, v in program.items() if k not in ("seconds", "throughput_gb_per_s", "output")}
    for f in (TINY / "base-v1").iterdir():
        assert (tmp_path / "copy" / f.name).read_bytes() == f.read_bytes()
    with pytest.raises(paramdelta.ExistsError) as e:
        paramdelta.copy(TINY / "base-v1", tmp_path / "copy")
    assert "force=True" in str(e.value)
    paramdelta.copy(TINY / "base-v1", tmp_path / "copy", force=True)


def test_a_directory_output_is_sharded_by_max_shard_size(tmp_path, model_pair):
    m = model_pair("F32")
    paramdelta.apply(m["new"], paramdelta.compute(m["base"], m["post"], tmp_path / "d").output, tmp_path / "out",
                     max_shard_size="20KB")
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
    assert paramdelta.inspect(tmp_path / "out").shards > 1
