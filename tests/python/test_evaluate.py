"""paramdelta.evaluate is `paramdelta eval`: the same numbers (to_dict() is
the --json output), the same errors, progress per window or task, the GIL
released, Ctrl-C stops it; and the compat ParamDeltaEvaluator over it."""

from __future__ import annotations

import _thread
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import paramdelta
from paramdelta.compat import ParamDeltaEvaluator
from package_support import REPO, TINY

DATA = TINY / "eval"
CHAT_V1, CHAT_V2, BASE_V2 = TINY / "chat-v1", TINY / "chat-v2", TINY / "base-v2"


def cli_eval(cli, *args):
    return json.loads(cli("eval", *args, "--json").stdout)


# (Python keyword arguments, the same as command-line flags)
CASES = {
    "perplexity": (
        dict(models=[CHAT_V2, CHAT_V1], data=DATA / "ppl_new.txt", metric="perplexity", limit=200),
        ["--model", CHAT_V2, "--model", CHAT_V1, "--data", DATA / "ppl_new.txt", "--metric", "perplexity",
         "--limit", 200],
    ),
    "perplexity, stride and context": (
        dict(models=[BASE_V2, CHAT_V1], data=[DATA / "ppl_old.txt"], metric=["perplexity"], context=64,
             stride=48, limit=300, reference=CHAT_V1),
        ["--model", BASE_V2, "--model", CHAT_V1, "--data", DATA / "ppl_old.txt", "--metric", "perplexity",
         "--context", 64, "--stride", 48, "--limit", 300, "--reference", CHAT_V1],
    ),
    "accuracy, chat template, no stop string": (
        dict(models=[CHAT_V1, CHAT_V2], data=DATA / "instruct.jsonl", metric="accuracy", chat_template=True,
             stop=[], max_new_tokens=24, batch=5, limit=12, threads=1),
        ["--model", CHAT_V1, "--model", CHAT_V2, "--data", DATA / "instruct.jsonl", "--metric", "accuracy",
         "--chat-template", "--no-stop", "--max-new-tokens", 24, "--batch", 5, "--limit", 12, "--threads", 1],
    ),
    "accuracy, default and own stop strings": (
        dict(models=CHAT_V2, data=DATA / "knowledge_new.jsonl", metric="accuracy", limit=10),
        ["--model", CHAT_V2, "--data", DATA / "knowledge_new.jsonl", "--metric", "accuracy", "--limit", 10],
    ),
    "accuracy, a stop string given": (
        dict(models=CHAT_V2, data=DATA / "knowledge_new.jsonl", metric="accuracy", stop=[".", "\t"], limit=10),
        ["--model", CHAT_V2, "--data", DATA / "knowledge_new.jsonl", "--metric", "accuracy", "--stop", ".",
         "--stop", "\\t", "--limit", 10],
    ),
    "several metrics": (
        dict(models=[CHAT_V2, CHAT_V1], data=[DATA / "ppl_new.txt", DATA / "instruct_chat.jsonl"],
             metric="perplexity,accuracy", limit=8),
        ["--model", CHAT_V2, "--model", CHAT_V1, "--data", DATA / "ppl_new.txt", "--data",
         DATA / "instruct_chat.jsonl", "--metric", "perplexity,accuracy", "--limit", 8],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_evaluate_gives_the_numbers_of_the_command_line(cli, case):
    options, flags = CASES[case]
    result = paramdelta.evaluate(**options)
    expected = cli_eval(cli, *flags)
    assert result.to_dict() == expected
    # The typed view reads the same record.
    first = result.evaluations[0]
    record = expected["evaluations"][0] if "evaluations" in expected else expected
    assert result.reference == record["reference"]
    assert first.metric == record["metric"]
    assert first.models == record["models"]
    assert first.score(record["models"][0]["model"]) == record["models"][0][record["metric"]]


def test_several_metrics_give_one_evaluation_each_in_order():
    result = paramdelta.evaluate([CHAT_V2], [DATA / "ppl_new.txt", DATA / "instruct_chat.jsonl"],
                                 ["perplexity", "accuracy"], limit=4)
    assert [e.metric for e in result.evaluations] == ["perplexity", "accuracy"]
    assert [e.data for e in result.evaluations] == [str(DATA / "ppl_new.txt"), str(DATA / "instruct_chat.jsonl")]
    assert result.evaluations[0].models[0]["percent_of_reference"] == pytest.approx(100.0)


def test_notes_are_reported_apart_from_the_json():
    result = paramdelta.evaluate(CHAT_V2, DATA / "instruct.jsonl", "accuracy", limit=2)
    assert any("ignoring fields 'task'" in note for note in result.notes)
    assert "notes" not in result.to_dict()


@pytest.mark.parametrize(
    "options, field",
    [
        (dict(metric="recall"), "metric"),
        (dict(metric="perplexity,accuracy"), "data"),
        (dict(metric="perplexity", chat_template=True), "chat_template"),
        (dict(metric="accuracy", data=DATA / "instruct.jsonl", stride=8), "stride"),
        (dict(metric="accuracy", data=DATA / "instruct.jsonl", stop=[""]), "stop"),
        (dict(metric="perplexity", context=1), "context"),
        (dict(metric="perplexity", limit=0), "limit"),
        (dict(metric="accuracy", data=DATA / "instruct.jsonl", batch=0), "batch"),
        (dict(metric="accuracy", data=DATA / "instruct.jsonl", max_new_tokens=0), "max_new_tokens"),
        (dict(metric="perplexity", threads=-1), "threads"),
    ],
)
def test_impossible_options_are_usage_errors_naming_the_field(options, field):
    arguments = dict(models=CHAT_V2, data=DATA / "ppl_new.txt")
    arguments.update(options)
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.evaluate(**arguments)
    assert caught.value.field == field
    assert f"field '{field}'" in str(caught.value)


def test_a_progress_that_is_neither_callable_nor_bool_names_the_option():
    with pytest.raises(paramdelta.UsageError) as caught:
        paramdelta.evaluate(CHAT_V2, DATA / "ppl_new.txt", "perplexity", progress="yes")
    assert caught.value.option == "progress"
    assert "progress 'yes' is neither a callable nor a bool" in str(caught.value)


def error_line(cli, *flags):
    """The command's error line, with its flags spelled as this package's keywords
    (the library names options; each front end spells them: --context, context)."""
    result = cli("eval", *flags, check=False)
    assert result.returncode != 0
    line = result.stderr.strip().splitlines()[-1].removeprefix("paramdelta: error: ")
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), line)


def test_input_errors_are_the_command_lines_with_their_kind(cli, tmp_path):
    bad_tasks = tmp_path / "tasks.jsonl"
    bad_tasks.write_text('{"prompt": "2+2="}\n')
    empty_text = tmp_path / "empty.txt"
    empty_text.write_text("")
    no_tokenizer = tmp_path / "model"
    no_tokenizer.mkdir()
    cases = [
        (paramdelta.NotFoundError, [tmp_path / "missing"], DATA / "ppl_new.txt", "perplexity", {}),
        (paramdelta.InvalidInputError, [no_tokenizer], DATA / "ppl_new.txt", "perplexity", {}),
        (paramdelta.InvalidInputError, [CHAT_V2], bad_tasks, "accuracy", {}),
        (paramdelta.UsageError, [CHAT_V2], empty_text, "perplexity", {}),
        (paramdelta.IoError, [CHAT_V2], tmp_path / "no-text.txt", "perplexity", {}),
        (paramdelta.UsageError, [CHAT_V2], DATA / "instruct.jsonl", "accuracy", {"context": 4}),
    ]
    for kind, models, data, metric, extra in cases:
        with pytest.raises(paramdelta.Error) as caught:
            paramdelta.evaluate(models, data, metric, limit=3, **extra)
        assert type(caught.value) is kind, (data, caught.value)
        flags = [a for m in models for a in ("--model", m)] + ["--data", data, "--metric", metric, "--limit", 3]
        for name, value in extra.items():
            flags += [f"--{name}", value]
        assert str(caught.value) == error_line(cli, *flags)
        assert caught.value.file


def test_progress_counts_windows_and_tasks_of_each_model_on_the_calling_thread():
    calls = []
    caller = threading.get_ident()
    paramdelta.evaluate([CHAT_V2, CHAT_V1], [DATA / "ppl_new.txt", DATA / "instruct_chat.jsonl"],
                        "perplexity,accuracy", limit=20, context=96, stride=16, batch=4,
                        progress=lambda *a: calls.append((*a, threading.get_ident())))
    assert {c[3] for c in calls} == {caller}
    operations = list(dict.fromkeys(c[0] for c in calls))
    assert len(operations) == 4  # two models × two evaluations, in order
    assert operations[0].startswith(f"evaluate {CHAT_V2} (1/2): perplexity on ")
    assert operations[3].startswith(f"evaluate {CHAT_V1} (2/2): accuracy on ")
    for operation in operations:
        counts = [(done, total) for name, done, total, _ in calls if name == operation]
        assert counts[-1][0] == counts[-1][1] > 0
        assert [d for d, _ in counts] == sorted(d for d, _ in counts)
    accuracy = [c for c in calls if c[0] == operations[1]]
    assert accuracy[-1][2] == 20  # tasks


def test_a_tqdm_bar_when_asked(capsys):
    pytest.importorskip("tqdm")
    paramdelta.evaluate(CHAT_V2, DATA / "instruct_chat.jsonl", "accuracy", limit=4, progress=True)
    assert "evaluate" in capsys.readouterr().err


def test_a_python_thread_runs_while_evaluate_works():
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    seen = []
    thread = threading.Thread(target=count)
    thread.start()
    try:
        paramdelta.evaluate(CHAT_V2, DATA / "instruct_chat.jsonl", "accuracy", limit=24, batch=1, threads=1,
                            progress=lambda *a: seen.append(ticks))
    finally:
        stop.set()
        thread.join()
    assert len(seen) >= 2 and seen[-1] > seen[0]


def test_ctrl_c_stops_the_evaluation():
    calls = []

    def progress(operation, done, total):
        calls.append(operation)
        _thread.interrupt_main()  # as if Ctrl-C were pressed now

    with pytest.raises(KeyboardInterrupt):
        paramdelta.evaluate([CHAT_V2, CHAT_V1, BASE_V2], DATA / "instruct_chat.jsonl", "accuracy", batch=1,
                            progress=progress)
    # It stopped in the first model's evaluation, not after all three.
    assert all("(1/3)" in c for c in calls)


def test_an_exception_in_the_progress_callback_stops_the_evaluation():
    class Enough(Exception):
        pass

    calls = []

    def progress(operation, done, total):
        calls.append(done)
        raise Enough()

    with pytest.raises(Enough):
        paramdelta.evaluate([CHAT_V2, CHAT_V1], DATA / "instruct_chat.jsonl", "accuracy", batch=1, progress=progress)
    assert len(calls) == 1


def test_the_compat_evaluator_keys_the_records_by_role_and_task(cli):
    evaluator = ParamDeltaEvaluator(device="cpu")
    results = evaluator.compare_models(
        original_model=CHAT_V2, param_delta_model=CHAT_V1, tasks=["perplexity", "accuracy"],
        data=[DATA / "ppl_new.txt", DATA / "instruct_chat.jsonl"], models={"new base": BASE_V2}, limit=6)
    expected = cli_eval(cli, "--model", CHAT_V2, "--model", CHAT_V1, "--model", BASE_V2, "--data",
                        DATA / "ppl_new.txt", "--data", DATA / "instruct_chat.jsonl", "--metric",
                        "perplexity,accuracy", "--limit", 6)
    assert evaluator.last_result is not None and evaluator.last_result.to_dict() == expected
    assert list(results) == ["original_model", "param_delta_model", "new base"]
    for evaluation in expected["evaluations"]:
        for record, name in zip(evaluation["models"], results):
            assert results[name][evaluation["metric"]] == dict(record, score=record[evaluation["metric"]])
    assert results["original_model"]["perplexity"]["percent_of_reference"] == pytest.approx(100.0)


def test_the_compat_evaluator_takes_data_by_task_and_another_reference():
    results = ParamDeltaEvaluator().compare_models(
        original_model=CHAT_V2, param_delta_model=CHAT_V1, tasks="accuracy",
        data={"accuracy": DATA / "instruct_chat.jsonl"}, reference="param_delta_model", limit=4)
    assert results["param_delta_model"]["accuracy"]["reference"] is True
    assert results["original_model"]["accuracy"]["reference"] is False


@pytest.mark.parametrize(
    "arguments, field",
    [
        (dict(original_model=CHAT_V2, tasks=["perplexity"]), "data"),
        (dict(tasks=["perplexity"], data=[DATA / "ppl_new.txt"]), "models"),
        (dict(original_model=CHAT_V2, tasks=["perplexity", "accuracy"], data={"perplexity": DATA / "ppl_new.txt"}),
         "data"),
        (dict(original_model=CHAT_V2, data=[DATA / "ppl_new.txt"], reference="chat"), "reference"),
        (dict(original_model=CHAT_V2, param_delta_model=CHAT_V2, data=[DATA / "ppl_new.txt"]), "models"),
    ],
)
def test_the_compat_evaluator_rejects_what_it_cannot_run(arguments, field):
    with pytest.raises(paramdelta.UsageError) as caught:
        ParamDeltaEvaluator().compare_models(**arguments)
    assert caught.value.field == field


def test_the_compat_evaluator_runs_on_the_cpu_only():
    with pytest.raises(paramdelta.UsageError):
        ParamDeltaEvaluator(device="cuda")


def test_the_evaluation_example_runs_and_matches_the_command_line(cli, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, str(REPO / "examples" / "evaluate_paramdelta.py"), str(tmp_path),
                             "--limit", "16"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["model", "perplexity", "accuracy", "%", "of", "reference"]
    rows = {line[:20].strip(): line[20:].split() for line in lines[1:]}
    assert set(rows) == {"original_model", "param_delta_model", "new base"}
    # The ParamΔ model it wrote, evaluated by the program, scores what it printed.
    model = tmp_path / "base-v2-paramdelta"
    expected = cli_eval(cli, "--model", CHAT_V2, "--model", model, "--data", DATA / "instruct.jsonl", "--metric",
                        "accuracy", "--chat-template", "--no-stop", "--limit", 16)
    accuracy = expected["models"][1]["accuracy"]
    assert rows["param_delta_model"][1] == f"{100 * accuracy:.1f}%"


def test_a_thread_count_holds_for_its_call_only(cli):
    # The BLAS's thread count changes how perplexity's sums are split; a call
    # with threads=1 must not change what a later default call computes.
    flags = ["--model", CHAT_V2, "--data", DATA / "ppl_new.txt", "--metric", "perplexity", "--limit", 200]
    one = paramdelta.evaluate(CHAT_V2, DATA / "ppl_new.txt", "perplexity", limit=200, threads=1)
    assert one.to_dict() == cli_eval(cli, *flags, "--threads", 1)
    assert paramdelta.evaluate(CHAT_V2, DATA / "ppl_new.txt", "perplexity", limit=200).to_dict() == cli_eval(cli, *flags)
