"""The examples' command line (issue 13): ``--limit N`` takes a class-stratified subset of the test
and training sets (CIFAR-10's test batch is sorted by class, so its first 2,000 images are two
classes), and ``--help`` shows each script's whole description, its real defaults and a help
text for every flag that picks what runs (--arch, --model, --variant, --dataset, ...)."""
import argparse
import io
import runpy
import sys
import types
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'
sys.path.insert(0, str(EXAMPLES))

import common  # noqa: E402

# the runnable course scripts (helpers such as common.py and imagenet_weights.py have no command line)
SCRIPTS = sorted(p.name for p in EXAMPLES.glob('*.py') if "__name__ == '__main__'" in p.read_text())
CHOICE_FLAGS = ('--arch', '--model', '--variant', '--dataset')


def _args(limit, seed=0):
    return types.SimpleNamespace(limit=limit, seed=seed, synthetic=False)


def test_limit_takes_a_class_stratified_subset_of_a_sorted_test_set(monkeypatch):
    """A CIFAR-10-like loader whose test labels are sorted by class, as the real test batch's
    first 2,000 images hold two classes only when cut by position."""
    y_test = np.repeat(np.arange(10, dtype=np.uint8), 100).reshape(-1, 1)
    y_train = np.repeat(np.arange(10, dtype=np.uint8), 50).reshape(-1, 1)
    x_test = np.arange(1000).reshape(-1, 1)  # each row holds its own index
    x_train = np.arange(500).reshape(-1, 1)
    import minidl.datasets.cifar10 as cifar10
    monkeypatch.setattr(cifar10, 'load_data', lambda: ((x_train, y_train), (x_test, y_test)))
    args = _args(200)
    (xa, ya), (xb, yb) = common.load_data('cifar10', args)
    for labels, n in ((ya, 200), (yb, 200)):
        counts = np.bincount(labels.reshape(-1), minlength=10)
        assert len(labels) == n and counts.tolist() == [20] * 10
    np.testing.assert_array_equal(y_test[xb.ravel()], yb)  # images and labels stay paired
    np.testing.assert_array_equal(y_train[xa.ravel()], ya)
    assert len(np.unique(xb)) == 200 and args.dataset_name == 'cifar10[:200]'


def test_stratified_indices_round_by_largest_remainder_and_follow_the_seed():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    index = common.stratified_indices(y, 9, seed=1)
    assert np.bincount(y[index]).tolist() == [5, 3, 1] or np.bincount(y[index]).tolist() == [4, 3, 2]
    assert len(index) == 9 and np.all(np.diff(index) > 0)
    np.testing.assert_array_equal(index, common.stratified_indices(y, 9, seed=1))
    assert not np.array_equal(common.stratified_indices(y, 9, seed=2), index)
    one_hot = np.eye(3)[y]
    assert np.bincount(y[common.stratified_indices(one_hot, 10)]).tolist() == [5, 3, 2]
    np.testing.assert_array_equal(common.stratified_indices(y, 500), np.arange(100))


def test_limit_keeps_regression_data_in_order():
    x, y = np.arange(10.0).reshape(10, 1), np.linspace(0.5, 9.5, 10)
    xa, ya = common._limit((x, y), 4)
    np.testing.assert_array_equal(ya, y[:4])


def _parser_of(script, monkeypatch):
    """The parser a script builds in main(), captured when it parses its arguments."""
    captured = {}

    def capture(self, *args, **kwargs):
        captured['parser'] = self
        raise SystemExit(0)
    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', capture)
    monkeypatch.setattr(sys, 'argv', [script])
    with redirect_stdout(io.StringIO()), pytest.raises(SystemExit):
        runpy.run_path(str(EXAMPLES / script), run_name='__main__')
    return captured['parser']


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_shows_the_whole_description_defaults_and_choice_help(script, monkeypatch):
    p = _parser_of(script, monkeypatch)
    doc = runpy.run_path(str(EXAMPLES / script), run_name='not_main').get('__doc__') or ''
    assert p.description.strip() == doc.strip(), f'{script}: --help shows only part of the docstring'
    text = p.format_help()
    assert doc.strip().splitlines()[-1].strip() in text  # the last line of the description (an example command)
    for action in p._actions:
        flags = [f for f in action.option_strings if f in CHOICE_FLAGS]
        if flags:
            assert action.help and len(action.help) > 10, f'{script}: {flags[0]} has no help text'
            for choice in action.choices or []:
                assert str(choice) in action.help, f'{script}: {flags[0]} help does not list {choice}'
        default = action.default
        if action.option_strings and default not in (None, False, argparse.SUPPRESS) and action.dest != 'help':
            rendered = p._get_formatter()._expand_help(action) if action.help else ''
            assert 'default' in rendered and (str(default) in rendered or 'default:' in rendered), \
                f'{script}: {action.option_strings[0]} does not show its default {default!r}'
