"""The docs cannot rot: every ```python block of docs/*.md runs here, the blocks of one page in
order and in one namespace; a ```text block right after a python block is that block's output."""
import contextlib
import io
import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs')
PAGES = sorted(f for f in os.listdir(DOCS) if f.endswith('.md'))
FENCE = re.compile(r'^```(\w*)\n(.*?)^```\s*$', re.S | re.M)


def blocks(page):
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    out = []
    for i, (lang, code, start, end) in enumerate(found):
        if lang != 'python':
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][0] == 'text' and not text[end:found[i + 1][2]].strip():
            expected = found[i + 1][1]
        line = text[:start].count('\n') + 2
        out.append((line, code, expected))
    return out


def test_the_walkthrough_exists_and_has_code():
    assert 'backprop.md' in PAGES and len(blocks('backprop.md')) >= 10


@pytest.mark.slow
@pytest.mark.parametrize('page', [p for p in PAGES if blocks(p)])
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)       # a block that writes files writes them here
    namespace = {'__name__': f'docs_{page[:-3]}'}
    for line, code, expected in blocks(page):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, f'docs/{page}:{line}', 'exec'), namespace)
            except Exception as error:
                raise AssertionError(f'docs/{page}, the block at line {line} failed: {error!r}') from error
        if expected is not None:
            assert out.getvalue() == expected, f'docs/{page}, the output of the block at line {line}'
