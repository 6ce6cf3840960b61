"""benchmarks/compare.py's arithmetic: figures are medians over rounds, ratios are paired within a
round (so a slow round hits the revision and the tree alike), failures are reported, not hidden."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))
import compare  # noqa: E402


def test_ratios_are_paired_per_round_and_medians_taken():
    ok = lambda r, s: {'status': 'ok', 'round': r, 'sec_per_epoch': s}  # noqa: E731
    results = {('m', 'revision'): [ok(0, 1.0), ok(1, 4.0), ok(2, 2.0)],      # round 1 was a loaded one
               ('m', 'this tree'): [ok(0, 1.1), ok(1, 4.4), ok(2, 2.2)],
               ('m', 'broken'): [{'status': 'failed', 'round': 0, 'reason': 'x'}]}
    variants = [{'name': 'revision'}, {'name': 'this tree'}, {'name': 'broken'}]
    rows = compare.summarize(results, ['m'], variants, 'revision')
    assert rows[0][1:6] == ('revision', 2.0, 1.0, 4.0, 1.0)
    model, name, median, lo, hi, ratio, rlo, rhi = rows[1]
    assert (median, lo, hi) == (2.2, 1.1, 4.4)
    assert abs(ratio - 1.1) < 1e-12 and abs(rlo - 1.1) < 1e-12 and abs(rhi - 1.1) < 1e-12
    assert rows[2][2] is None
