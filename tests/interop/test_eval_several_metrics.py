"""`paramdelta eval` with several metrics in one run (`--metric
perplexity,accuracy`, or `--metric` repeated), each with its own `--data`
in the same order: one table per metric, and every metric in `--json`, each
exactly what the metric gives alone.
"""

from __future__ import annotations

import json

from test_eval_cli import CORPUS, model  # noqa: F401 (model is the shared fixture)
from test_eval_reference import run_cli

TASKS = [
    {"prompt": "The quick brown", "answer": "fox"},
    {"prompt": "Paris is the", "choices": [" capital", " fox"], "label": 0},
    {"prompt": "Numbers like", "choices": [" 12345", " text"], "label": 1},
]


def write_inputs(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(" ".join(CORPUS[:2]) + "\n")
    other = tmp_path / "other.txt"
    other.write_text(CORPUS[2] + "\n")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    return str(text), str(other), str(tasks)


def evaluate(directory, *args, check=True):
    return run_cli("eval", "--model", str(directory), "--max-new-tokens", "4", *args, check=check)


def test_a_list_of_metrics_prints_one_table_per_metric_each_as_alone(model, tmp_path):
    directory = model[0]
    text, _, tasks = write_inputs(tmp_path)
    perplexity = evaluate(directory, "--metric", "perplexity", "--data", text).stdout
    accuracy = evaluate(directory, "--metric", "accuracy", "--data", tasks).stdout
    both = evaluate(directory, "--metric", "perplexity,accuracy", "--data", text, "--data", tasks).stdout
    assert both == f"perplexity on {text}:\n{perplexity}\naccuracy on {tasks}:\n{accuracy}"


def test_a_repeated_metric_flag_is_the_same_as_a_list(model, tmp_path):
    directory = model[0]
    text, _, tasks = write_inputs(tmp_path)
    listed = evaluate(directory, "--metric", "perplexity,accuracy", "--data", text, "--data", tasks)
    repeated = evaluate(directory, "--metric", "perplexity", "--data", text, "--metric", "accuracy", "--data", tasks)
    assert listed.stdout == repeated.stdout and listed.stdout.count("% of ref") == 2


def test_json_holds_every_metric_each_as_alone(model, tmp_path):
    directory = model[0]
    text, _, tasks = write_inputs(tmp_path)
    perplexity = json.loads(evaluate(directory, "--metric", "perplexity", "--data", text, "--json").stdout)
    accuracy = json.loads(evaluate(directory, "--metric", "accuracy", "--data", tasks, "--json").stdout)
    both = json.loads(evaluate(directory, "--metric", "perplexity,accuracy", "--data", text, "--data", tasks,
                               "--json").stdout)
    assert both == {"reference": str(directory), "evaluations": [perplexity, accuracy]}


def test_one_metric_can_be_measured_on_several_files(model, tmp_path):
    directory = model[0]
    text, other, _ = write_inputs(tmp_path)
    alone = [json.loads(evaluate(directory, "--metric", "perplexity", "--data", d, "--json").stdout)
             for d in (text, other)]
    both = json.loads(evaluate(directory, "--metric", "perplexity,perplexity", "--data", text, "--data", other,
                               "--json").stdout)
    assert both["evaluations"] == alone
    assert alone[0]["models"][0]["perplexity"] != alone[1]["models"][0]["perplexity"]


def test_the_options_of_one_metric_apply_to_it_in_a_list(model, tmp_path):
    directory = model[0]
    text, _, tasks = write_inputs(tmp_path)
    perplexity = json.loads(evaluate(directory, "--metric", "perplexity", "--data", text, "--stride", "7",
                                     "--json").stdout)
    accuracy = json.loads(evaluate(directory, "--metric", "accuracy", "--data", tasks, "--chat-template",
                                   "--json").stdout)
    both = json.loads(evaluate(directory, "--metric", "perplexity,accuracy", "--data", text, "--data", tasks,
                               "--stride", "7", "--chat-template", "--json").stdout)
    assert both["evaluations"] == [perplexity, accuracy]


def test_each_metric_needs_its_own_data_file(model, tmp_path):
    directory = model[0]
    text, _, tasks = write_inputs(tmp_path)
    for data in ([text], [text, tasks, text]):
        args = [a for d in data for a in ("--data", d)]
        out = evaluate(directory, "--metric", "perplexity,accuracy", *args, check=False)
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "2 metrics" in out.stderr and f"{len(data)} --data" in out.stderr and "same order" in out.stderr
        assert out.stdout == ""
