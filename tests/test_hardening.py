"""Issue #26: outputs never overwrite inputs, one writer per in-place update, names are never
paths, outside values checked at the edge in one line, nothing reported that was not measured."""
from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from helpers.tiny_models import write_domain
from smolmoe.cli.main import main
from smolmoe.core.config import load_manifest
from smolmoe.core.errors import ConfigError, DataError, SmolMoEError
from smolmoe.core.io import check_output_not_input, exclusive


def one_line_error(result, *fragments, code=1):
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert result.exit_code == code and len(lines) == 1, result.output
    assert lines[0].startswith("error:") and "Traceback" not in result.output, result.output
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_an_output_that_is_contains_or_sits_inside_an_input_is_refused(tmp_path):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    os.symlink(src, tmp_path / "alias")
    for out, relation in ((src, "is"), (tmp_path, "contains"), (src / "sub" / "x", "sits inside"),
                          (tmp_path / "alias", "is")):
        with pytest.raises(SmolMoEError, match=f"{relation} the input"):
            check_output_not_input(out, [None, src], "--out")
    assert check_output_not_input(tmp_path / "model-hf", [src]) == (tmp_path / "model-hf").resolve()


def test_writing_commands_refuse_their_input_as_output(tiny_dir, tmp_path):
    model = tmp_path / "dense"
    shutil.copytree(tiny_dir, model)
    before = sorted(p.name for p in model.iterdir())
    one_line_error(run("export", model, "--format", "hf", "--out", model, "--overwrite"),
                   "is the input")
    one_line_error(run("export", model, "--format", "hf", "--out", model / "hf"), "sits inside")
    one_line_error(run("eval", model, "--data", tmp_path, "--json", model / "report.json"),
                   "--json", "sits inside the input")
    # A training stage (train-expert, rl grpo/dpo, scratch stages share run_stage): refused
    # before any model loads, with --overwrite too.
    from smolmoe.core.config import TrainSettings
    from smolmoe.training.stage import Stage, run_stage
    for out in (model, model / "out"):
        with pytest.raises(SmolMoEError, match="never overwrite an input"):
            run_stage(Stage(model, out, TrainSettings(), prepare=None, overwrite=True))
    assert sorted(p.name for p in model.iterdir()) == before


def test_an_in_place_update_refuses_a_second_writer(tmp_path, tiny_moe):
    moe = tmp_path / "moe"
    shutil.copytree(tiny_moe, moe)
    with exclusive(moe, "training moe in place"):
        with pytest.raises(SmolMoEError, match="being updated by training moe in place"):
            with exclusive(moe, "adopt"):
                pass
        one_line_error(run("adopt", moe, "--names", "a,b,c", "--force"), "being updated by")
        one_line_error(run("train-router", moe, "--data", tmp_path / "nodata", "--steps", 1),
                       "being updated by")
    # Released: the next writer goes ahead.
    assert run("adopt", moe, "--names", "a,b,c", "--force").exit_code == 0


def test_adopt_refuses_a_smolmoe_moe_unless_forced_and_names_are_names(tmp_path, tiny_moe):
    moe = tmp_path / "moe"
    shutil.copytree(tiny_moe, moe)
    one_line_error(run("adopt", moe, "--names", "a,b,c"), "already has smolmoe.json", "--force")
    one_line_error(run("adopt", moe, "--names", "a,../x,c", "--force"), "must be a name")
    one_line_error(run("adopt", moe, "--names", "a,b,c", "--domains", "a,b,/etc", "--force"),
                   "must be a name")


@pytest.mark.parametrize("text, fragments", [
    ("name: ../../escaped_expert\ndomain: math\n", ["name must be a name", "'../../escaped_expert'"]),
    ("name: ok\ndomain: ../up\n", ["domain must be a name"]),
    ("name: ok\ndomain: math\nfinetune: {lr: 2e-4}\n", ["finetune: lr must be a number", "write 2.0e-4"]),
    ("name: ok\ndomain: math\nfinetune: {steps: 99999999999999999999999}\n", ["steps", "64 bits"]),
    ("name: ok\ndomain: math\npositive_prompts: hello\n", ["positive_prompts must be a list"]),
    ("name: ok\ndomain: math\nfinetune: [1]\n", ["finetune must be a mapping"]),
    ("name: [x]\ndomain: math\n", ["name must be text"]),
    ("name: ok\ndomain: math\ndescription: \"\\uD800\"\n", ["description is not valid Unicode"]),
])
def test_a_manifest_field_of_the_wrong_kind_is_one_line_naming_file_and_field(tmp_path, text,
                                                                              fragments):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    message = str(e.value)
    assert message.startswith(str(path)) and "\n" not in message
    for f in fragments:
        assert f in message, message


def test_train_expert_never_writes_outside_its_root(tmp_path):
    experts = tmp_path / "manifests"
    experts.mkdir()
    (experts / "bad.yaml").write_text("name: ../../escaped_expert\ndomain: math\n")
    r = run("train-expert", "--all", "--out", tmp_path / "home" / "experts",
            env={"SMOLMOE_EXPERTS": str(experts), "SMOLMOE_HOME": str(tmp_path / "home")})
    one_line_error(r, "must be a name")
    assert not (tmp_path / "escaped_expert").exists()


@pytest.mark.parametrize("home, reason", [("", "is empty"), ("  ", "is empty"),
                                          ("relative/home", "is a relative path"),
                                          ("~no_such_user_26/x", "unexpandable ~")])
def test_a_smolmoe_home_that_is_not_an_absolute_path_is_refused(home, reason, tmp_path):
    for args in (["eval", "--moe"], ["train-router"], ["chat"]):
        one_line_error(run(*args, env={"SMOLMOE_HOME": home}), "SMOLMOE_HOME", reason)
    assert list(tmp_path.iterdir()) == []


def test_data_that_is_not_a_regular_file_or_not_text_is_one_line(tmp_path):
    from smolmoe.data.records import load_records
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "surrogate.jsonl").write_text('{"instruction": "\\ud800", "output": "x"}\n')
    (tmp_path / "deep.jsonl").write_text("[" * 200_000 + "\n")
    for name, message in (("fifo", "not a regular file"), ("surrogate.jsonl", "not valid Unicode"),
                          ("deep.jsonl", "nested too deeply")):
        with pytest.raises(DataError, match=message):
            load_records(tmp_path / name)


def test_a_chat_template_that_fails_or_never_ends_is_one_line(tiny_dir, tmp_path, monkeypatch):
    import smolmoe.data.records as data
    from smolmoe.inference.generate import ChatModel
    chat = ChatModel.load(tiny_dir)
    monkeypatch.setattr(data, "TEMPLATE_SECONDS", 0.5)
    for template, message in (("{{ raise_exception('roles must alternate') }}", "roles must alternate"),
                              ("{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}"
                               "{% endfor %}", "did not finish within 0.5 s"),
                              ("{% for %}", "TemplateSyntaxError")):
        monkeypatch.setattr(chat.tokenizer, "chat_template", template)
        with pytest.raises(DataError, match=message):
            chat.encode([{"role": "user", "content": "hi"}])


def test_an_evaluation_that_scored_no_token_says_so_and_exits_1(tiny_dir, tmp_path):
    write_domain(tmp_path / "data", "math")
    r = run("eval", tiny_dir, "--data", tmp_path / "data", "--max-len", 8, "--limit", 2,
            "--json", tmp_path / "report.json")
    assert r.exit_code == 1 and "Traceback" not in r.output   # (above it: the progress bar)
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: no assistant token was scored for tiny_llama0/math"), last
    assert "--max-len" in last and "0.000" not in r.output and not (tmp_path / "report.json").exists()
    r = run("eval", tiny_dir, "--data", tmp_path / "data", "--limit", 2)
    assert r.exit_code == 0, r.output
