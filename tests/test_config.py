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
