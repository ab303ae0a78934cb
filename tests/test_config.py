from pathlib import Path

import pytest

from pa3report import config
from pa3report.errors import UserError

PROJECT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "exp"
    d.mkdir(exist_ok=True)
    (d / "a.toml").write_text(text)
    return d


GOOD = '[[experiment]]\nname = "x1"\nmodel = "UNet"\ntask = "colourization"\n'


def test_defaults_are_the_handouts(tmp_path):
    (e,) = config.load_experiments(write(tmp_path, GOOD))
    assert (e.epochs, e.batch_size, e.learn_rate, e.num_filters, e.kernel, e.seed) == (25, 100, 0.001, 32, 3, 0)
    assert e.in_channels == 1


def test_project_list_has_every_required_run():
    names = {e.name for e in config.load_experiments(PROJECT / "experiments")}
    assert {"p1_regression", "p2_cnn", "p3_unet", "p4_sr_cnn", "p4_sr_unet"} <= names
    assert len([n for n in names if n.startswith("p1_regression_e")]) >= 2
    assert len([n for n in names if n.startswith("p3_unet_bs")]) >= 3
    by = {e.name: e for e in config.load_experiments(PROJECT / "experiments")}
    assert by["p1_regression"].epochs == 25 and by["p3_unet"].batch_size == 100


@pytest.mark.parametrize("line, words", [
    ("epoch = 3", ["a.toml", "'x1'", "'epoch'", "did you mean 'epochs'"]),
    ("epochs = 'ten'", ["'epochs'", "must be an integer"]),
    ("epochs = 0", ["'epochs'", "between 1 and 1000"]),
    ("kernel = 4", ["'kernel'", "odd"]),
    ("learn_rate = true", ["'learn_rate'", "must be a number"]),
    ("questions = ['9.9']", ["'questions'", "unknown question"]),
    ("measured = 'edges'", ["'measured'", "must be a table of measurement = \"label\""]),
    ("measured = {edges = 3}", ["'measured'", "'edges' must be given a label"]),
])
def test_bad_values_name_file_entry_and_key(tmp_path, line, words):
    with pytest.raises(UserError) as info:
        config.load_experiments(write(tmp_path, GOOD + line + "\n"))
    for w in words:
        assert w in str(info.value)


def test_unknown_model_suggests_closest(tmp_path):
    with pytest.raises(UserError, match="did you mean 'UNet'"):
        config.load_experiments(write(tmp_path, GOOD.replace('"UNet"', '"Unet"')))


def test_model_must_fit_task(tmp_path):
    with pytest.raises(UserError, match="does not fit task"):
        config.load_experiments(write(tmp_path, GOOD.replace('"UNet"', '"RegressionCNN"')))


def test_duplicate_name(tmp_path):
    with pytest.raises(UserError, match="duplicate name"):
        config.load_experiments(write(tmp_path, GOOD + "\n" + GOOD))


@pytest.mark.parametrize("name", ["../x", "has space", "Upper", ""])
def test_unsafe_names_refused(tmp_path, name):
    with pytest.raises(UserError, match="not a safe name"):
        config.load_experiments(write(tmp_path, GOOD.replace('"x1"', repr(name).replace("'", '"'))))


def test_toml_syntax_error_has_line(tmp_path):
    with pytest.raises(UserError, match=r"a.toml: TOML syntax error.*line 3"):
        config.load_experiments(write(tmp_path, '[[experiment]]\nname = "x"\nmodel = \n'))


def test_missing_required_key(tmp_path):
    with pytest.raises(UserError, match="'task' is missing"):
        config.load_experiments(write(tmp_path, '[[experiment]]\nname = "x"\nmodel = "CNN"\n'))


def test_overrides_are_checked_and_applied(tmp_path):
    (e,) = config.load_experiments(write(tmp_path, GOOD))
    o = config.parse_overrides(["epochs=2", "learn_rate=0.01", "optimizer=sgd"])
    e2 = config.apply_overrides(e, o)
    assert (e2.epochs, e2.learn_rate, e2.optimizer) == (2, 0.01, "sgd")
    with pytest.raises(UserError, match="did you mean 'epochs'"):
        config.parse_overrides(["epoch=2"])
    with pytest.raises(UserError, match="must be an integer"):
        config.parse_overrides(["epochs=two"])


def test_quick_spec_caps_epochs_and_images(tmp_path):
    (e,) = config.load_experiments(write(tmp_path, GOOD))
    q = config.RunSpec(e, quick=True)
    assert q.epochs == 2 and q.train_images == 1000 and q.val_images == 200
    assert q.hyper() != config.RunSpec(e).hyper()
    assert "epochs" not in q.hyper(with_epochs=False)


def test_find_suggests(tmp_path):
    exps = config.load_experiments(write(tmp_path, GOOD))
    with pytest.raises(UserError, match="did you mean 'x1'"):
        config.find(exps, "x2")


def test_seeds_expand_into_one_run_per_seed(tmp_path):
    exps = config.load_experiments(write(tmp_path, GOOD + "seeds = [0, 3, 7]\n"))
    assert [(e.name, e.seed, e.base) for e in exps] == [("x1", 0, "x1"), ("x1_s3", 3, "x1"), ("x1_s7", 7, "x1")]
    with pytest.raises(UserError, match="either 'seed' or 'seeds'"):
        config.load_experiments(write(tmp_path, GOOD + "seeds = [0, 1]\nseed = 2\n"))
    with pytest.raises(UserError, match="a seed twice"):
        config.load_experiments(write(tmp_path, GOOD + "seeds = [1, 1]\n"))


def test_skips_default_to_the_models_own_and_are_kept_in_decoder_order(tmp_path):
    (unet,) = config.load_experiments(write(tmp_path, GOOD))
    assert unet.skips == ("downconv2", "downconv1", "input") and unet.handout_network
    (cnn,) = config.load_experiments(write(tmp_path, GOOD.replace('"UNet"', '"CNN"')))
    assert cnn.skips == ()
    (some,) = config.load_experiments(write(tmp_path, GOOD + 'skips = ["input", "downconv2"]\n'))
    assert some.skips == ("downconv2", "input") and not some.handout_network
    (none,) = config.load_experiments(write(tmp_path, GOOD + "skips = []\n"))
    assert none.skips == ()


@pytest.mark.parametrize("line, words", [
    ('skips = ["downconv3"]', ["a.toml", "'x1'", "'skips'", "unknown skip 'downconv3'", "did you mean 'downconv2'"]),
    ('skips = ["inputs"]', ["'skips'", "did you mean 'input'", "into finalconv"]),
    ('skips = ["input", "input"]', ["'skips'", "lists 'input' twice"]),
    ('skips = "input"', ["'skips'", "must be a list of strings"]),
    ('loss = "cross_entropy"', ["'loss'", "unknown loss 'cross_entropy'", "known: mse, lab, ce, rebalanced"]),
    ('loss = "rebalance"', ["'loss'", "did you mean 'rebalanced'"]),
    ('loss = "mse"', ["'loss'", "needs an RGB output", "use 'ce' or 'rebalanced'"]),
    ('loss = "lab"', ["'loss'", "'colourization'"]),
])
def test_bad_skips_and_losses_are_one_line_errors(tmp_path, line, words):
    with pytest.raises(UserError) as info:
        config.load_experiments(write(tmp_path, GOOD + line + "\n"))
    assert "\n" not in str(info.value)
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("model", ["CNN", "RegressionCNN"])
def test_skips_only_for_the_unet(tmp_path, model):
    task = "regression" if model == "RegressionCNN" else "colourization"
    text = f'[[experiment]]\nname = "x1"\nmodel = "{model}"\ntask = "{task}"\nskips = ["input"]\n'
    with pytest.raises(UserError, match=f"'skips': only the UNet has skip connections.*{model}"):
        config.load_experiments(write(tmp_path, text))
    with pytest.raises(UserError, match="only the UNet"):
        config.load_experiments(write(tmp_path, text.replace('["input"]', "[]")))


def entry(model: str, task: str, loss: str | None = None) -> str:
    return (f'[[experiment]]\nname = "x1"\nmodel = "{model}"\ntask = "{task}"\n'
            + (f'loss = "{loss}"\n' if loss else ""))


@pytest.mark.parametrize("model, task, loss, head", [
    ("RegressionCNN", "regression", None, "rgb"),
    ("RegressionCNN", "regression", "lab", "rgb"),
    ("CNN", "colourization", None, "palette"),
    ("UNet", "colourization", "rebalanced", "palette"),
    ("UNet", "super_resolution", None, "palette"),
    ("UNet", "super_resolution", "mse", "rgb"),
    ("CNN", "super_resolution", "mse", "rgb"),
    ("CNN", "super_resolution", "rebalanced", "palette"),
])
def test_loss_decides_the_head(tmp_path, model, task, loss, head):
    (e,) = config.load_experiments(write(tmp_path, entry(model, task, loss)))
    assert e.head == head
    assert e.loss == loss or (loss is None and e.loss == ("mse" if task == "regression" else "ce"))


@pytest.mark.parametrize("model, task, loss, words", [
    ("RegressionCNN", "regression", "ce", ["'loss'", "'regression' outputs RGB", "use 'mse' or 'lab'"]),
    ("RegressionCNN", "regression", "rebalanced", ["'loss'", "scores palette colours"]),
    ("CNN", "colourization", "mse", ["'loss'", "needs an RGB output"]),
    ("UNet", "super_resolution", "lab", ["'loss'", "'lab' is not used for 'super_resolution'", "or 'mse'"]),
    ("RegressionCNN", "super_resolution", "mse", ["'model'", "does not fit task"]),
])
def test_loss_must_fit_task_and_model(tmp_path, model, task, loss, words):
    with pytest.raises(UserError) as info:
        config.load_experiments(write(tmp_path, entry(model, task, loss)))
    for w in words:
        assert w in str(info.value)


def test_loss_can_be_set_but_not_skips(tmp_path):
    (e,) = config.load_experiments(write(tmp_path, GOOD))
    assert "loss" in config.SETTABLE and "skips" not in config.SETTABLE
    e2 = config.apply_overrides(e, config.parse_overrides(["loss=rebalanced"]))
    assert (e2.loss, e2.head) == ("rebalanced", "palette")
    with pytest.raises(UserError, match=r"--set loss=mse: does not fit experiment 'x1'.*needs an RGB output"):
        config.apply_overrides(e, config.parse_overrides(["loss=mse"]))
    with pytest.raises(UserError, match="did you mean 'lab'"):
        config.parse_overrides(["loss=lap"])
    with pytest.raises(UserError, match="'skips' cannot be set"):
        config.parse_overrides(['skips=["input"]'])


def test_hyper_depends_on_loss_and_skips(tmp_path):
    (e,) = config.load_experiments(write(tmp_path, GOOD))
    (fewer,) = config.load_experiments(write(tmp_path, GOOD + 'skips = ["input"]\n'))
    (reb,) = config.load_experiments(write(tmp_path, GOOD + 'loss = "rebalanced"\n'))
    (same,) = config.load_experiments(write(tmp_path, GOOD + 'loss = "ce"\nskips = ["input", "downconv1", "downconv2"]\n'))
    hyper = config.RunSpec(e).hyper()
    assert hyper["loss"] == "ce" and hyper["skips"] == ["downconv2", "downconv1", "input"]
    assert config.RunSpec(fewer).hyper() != hyper and config.RunSpec(reb).hyper() != hyper
    assert config.RunSpec(same).hyper() == hyper  # spelling out the defaults is the same experiment


def test_a_record_from_before_loss_and_skips_reads_with_defaults():
    old = {"name": "p3_unet", "model": "UNet", "task": "colourization", "questions": ["3.1"], "group": ""}
    e = config.from_record(old)
    assert (e.loss, e.head, e.skips, e.questions) == ("ce", "palette", ("downconv2", "downconv1", "input"), ("3.1",))
    new = config.from_record({**old, "loss": "rebalanced", "skips": ["input"], "unknown_later_field": 1})
    assert (new.loss, new.skips) == ("rebalanced", ("input",))


def test_project_ablations():
    by = {e.name: e for e in config.load_experiments(PROJECT / "experiments")}
    assert by["p3_unet_skip_input"].skips == ("input",)
    assert by["p3_unet_skip_encoder"].skips == ("downconv2", "downconv1")
    assert (by["p3_unet_bs20_lr"].batch_size, by["p3_unet_bs20_lr"].learn_rate) == (20, 0.0002)
    assert (by["p3_unet_bs500_lr"].batch_size, by["p3_unet_bs500_lr"].learn_rate) == (500, 0.005)
    assert (by["p1_regression_lab"].loss, by["p1_regression_lab"].model) == ("lab", "RegressionCNN")
    assert by["p3_unet_rebalanced"].loss == "rebalanced"
    assert (by["p4_sr_unet_rgb"].head, by["p4_sr_unet_rgb"].task) == ("rgb", "super_resolution")
    for name in ("p3_unet_skip_input", "p3_unet_skip_encoder", "p3_unet_bs20_lr", "p3_unet_bs500_lr",
                 "p1_regression_lab", "p3_unet_rebalanced", "p4_sr_unet_rgb"):
        assert by[name].epochs == 25 and {by[f"{name}_s1"].seed, by[f"{name}_s2"].seed} == {1, 2}
    # the handout's runs keep the handout's networks
    assert all(by[n].handout_network for n in ("p1_regression", "p2_cnn", "p3_unet", "p4_sr_cnn", "p4_sr_unet"))


def test_each_run_knows_the_list_it_comes_from(tmp_path):
    d = write(tmp_path, GOOD)
    (d / "sweep.toml").write_text(GOOD.replace('"x1"', '"y1"') + "seeds = [0, 1]\n")
    assert [(e.name, e.list_name) for e in config.load_experiments(d)] == [
        ("x1", "a"), ("y1", "sweep"), ("y1_s1", "sweep")]
    with pytest.raises(UserError, match="'list_name': unknown key"):  # the file says it, not a key
        config.load_experiments(write(tmp_path, GOOD + 'list_name = "b"\n'))


def test_the_list_does_not_change_what_is_trained(tmp_path):
    """Moving an entry to another file must not make its cached result stale."""
    import dataclasses

    (e,) = config.load_experiments(write(tmp_path, GOOD))
    moved = dataclasses.replace(e, list_name="elsewhere")
    assert config.RunSpec(moved).hyper() == config.RunSpec(e).hyper()
    assert "list_name" not in config.RunSpec(e).hyper()


def test_what_measures_an_entry_follows_it_and_changes_nothing_that_trains(tmp_path):
    """`measured` (inline or as the entry's last table) names the measurements that read the entry
    with their labels; its seeds carry it, and no fingerprint sees it."""
    import dataclasses
    import json

    (e,) = config.load_experiments(write(tmp_path, GOOD))
    table = GOOD + 'seeds = [0, 1]\n[experiment.measured]\nedges = "UNet, batch 20"\nlarge = ""\n'
    first, second = config.load_experiments(write(tmp_path, table))
    assert first.measured == second.measured == (("edges", "UNet, batch 20"), ("large", ""))
    (inline,) = config.load_experiments(write(tmp_path, GOOD + 'measured = {edges = "UNet, batch 20", large = ""}\n'))
    assert inline.measured == first.measured and hash(inline)
    assert config.RunSpec(inline).hyper() == config.RunSpec(e).hyper()
    record = json.loads(json.dumps(dataclasses.asdict(inline)))  # as a result's meta keeps it
    assert config.from_record(record) == inline


def test_the_handout_list_is_read_first(tmp_path):
    for stem, name in (("ablations", "a1"), ("handout", "h1"), ("sweep", "s1")):
        (tmp_path / f"{stem}.toml").write_text(
            f'[[experiment]]\nname = "{name}"\nmodel = "UNet"\ntask = "colourization"\n')
    assert [e.name for e in config.load_experiments(tmp_path)] == ["h1", "a1", "s1"]
