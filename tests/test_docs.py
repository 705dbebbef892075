"""Docs site: configuration, sidebar in sync, every page processed by nbdev, rendered and opened in headless Chromium.

Quarto is not available here, so the pages are built the way `nbdev-docs` prepares them (nbdev's own docs processors:
front matter, directives, show_doc, hidden cells dropped) and converted with nbconvert; see tests/docs_check.py.
The checked site and screenshots are written to `_docs_check/run-*/` (it git-ignores itself); the path is printed.
Without Chromium the browser tests are skipped with the reason; the static checks always run.
"""
import base64, importlib, inspect, io, pkgutil, shutil, subprocess, sys, time
from pathlib import Path

import nbformat
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_check as dc  # noqa: E402

ROOT, NBS = dc.ROOT, dc.NBS
NOTEBOOKS = [p.as_posix() for p in dc.list_notebooks()]


def _say(capsys, msg):
    with capsys.disabled(): print(f'\n[docs] {msg}')

# --------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------

def test_quarto_yml_is_one_source(tmp_path):
    "nbs/_quarto.yml (where nbdev 3 looks) is a link to the top-level _quarto.yml, and nbdev stages its contents."
    top, link = ROOT/'_quarto.yml', NBS/'_quarto.yml'
    assert top.is_file() and not top.is_symlink()
    assert link.is_symlink(), 'nbs/_quarto.yml must be a symlink to ../_quarto.yml (nbdev would write its own default)'
    assert link.resolve() == top.resolve()
    from nbdev.serve import _proc_file  # what `nbdev-docs` does to stage nbs/ files into _proc/
    _proc_file(link, tmp_path, NBS)
    assert (tmp_path/'_quarto.yml').read_text() == top.read_text()
    assert not (tmp_path/'_quarto.yml').is_symlink()


def test_quarto_yml_contents():
    q = yaml.safe_load((ROOT/'_quarto.yml').read_text())
    assert q['project']['type'] == 'website'
    html = q['format']['html']
    assert html['theme'] == {'light': 'cosmo', 'dark': 'darkly'}
    assert html['toc'] is True
    assert 'code-fold' in html and html['code-summary']
    assert (NBS/html['css']).is_file()
    for f in q.get('filters', []):
        if f != 'quarto': assert (NBS/f).is_file(), f
    assert {'nbdev.yml', 'sidebar.yml'} <= set(q['metadata-files'])
    nav = q['website']['navbar']
    hrefs = [i.get('href', '') for side in ('left', 'right') for i in nav.get(side, [])]
    assert any(h.startswith('https://arxiv.org/abs/2203.04560') for h in hrefs), 'navbar links the paper'
    assert 'https://github.com/as3l/as3l' in hrefs, 'navbar links the source repo'
    for h in hrefs:
        if h.endswith('.ipynb'): assert (NBS/h).exists(), f'navbar links missing notebook {h}'
    assert q['website']['title']


def test_nbdev_uses_custom_sidebar():
    "pyproject.toml sets custom_sidebar, so nbdev-docs keeps our nbs/sidebar.yml instead of regenerating it."
    with dc._in_repo():
        from nbdev.config import get_config
        assert get_config().custom_sidebar


def test_workflows():
    gh = ROOT/'.github'/'workflows'
    test = yaml.safe_load((gh/'test.yaml').read_text())
    runs = [s.get('run', '') for j in test['jobs'].values() for s in j['steps']]
    assert any('bash .ci/run' in r for r in runs)
    dep = yaml.safe_load((gh/'deploy.yaml').read_text())
    steps = [s for j in dep['jobs'].values() for s in j['steps']]
    assert any('nbdev-docs' in s.get('run', '') for s in steps)
    uses = ' '.join(s.get('uses', '') for s in steps)
    assert 'quarto' in uses and ('gh-pages' in uses or 'deploy-pages' in uses or 'quarto-ghp' in uses)

# --------------------------------------------------------------------------------------------------------------
# Sidebar: every notebook, in reading order
# --------------------------------------------------------------------------------------------------------------

def test_sidebar_lists_every_notebook_in_reading_order():
    assert NOTEBOOKS, 'no notebooks found in nbs/'
    probs = dc.sidebar_problems()
    assert not probs, '\n'.join(probs)
    entries = dc.sidebar_entries()
    assert sorted(nb for _, nb in entries) == sorted(NOTEBOOKS), 'every notebook listed exactly once'
    secs = [s for s, _ in entries]
    assert secs == sorted(secs, key=dc.SECTIONS.index), 'sections in order: Get started, Tutorials, API'
    api = [nb for s, nb in entries if s == 'API']
    assert api == sorted(api), 'API pages in paper order (numbered names)'


def _mini_nb(title, code='x = 1', default_exp=None):
    cells = [nbformat.v4.new_markdown_cell(f'# {title}\n> {title} in one line.')]
    if default_exp: cells.append(nbformat.v4.new_code_cell(f'#| default_exp {default_exp}'))
    cells.append(nbformat.v4.new_code_cell(code))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    return nb


def test_sidebar_check_fails_when_a_notebook_is_missing(tmp_path):
    for name, exp in [('index', None), ('00_core', 'core'), ('01_data', 'data'), ('10_tutorial.digits', None)]:
        nbformat.write(_mini_nb(name, default_exp=exp), tmp_path/f'{name}.ipynb')
    (tmp_path/'_hidden.ipynb').write_text('{}')   # skipped, as nbdev skips it
    dc.write_sidebar(tmp_path)
    assert dc.sidebar_problems(tmp_path) == []
    d = yaml.safe_load((tmp_path/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert d == [{'section': 'Get started', 'contents': ['index.ipynb']},
                 {'section': 'Tutorials', 'contents': ['10_tutorial.digits.ipynb']},
                 {'section': 'API', 'contents': ['00_core.ipynb', '01_data.ipynb']}]
    nbformat.write(_mini_nb('Active', default_exp='active'), tmp_path/'05_active.ipynb')
    probs = dc.sidebar_problems(tmp_path)
    assert any('05_active.ipynb is missing' in p for p in probs), probs
    dc.write_sidebar(tmp_path); assert dc.sidebar_problems(tmp_path) == []
    (tmp_path/'01_data.ipynb').unlink()
    assert any('01_data.ipynb' in p for p in dc.sidebar_problems(tmp_path))

# --------------------------------------------------------------------------------------------------------------
# Every page: nbdev processing + static checks, then Chromium
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def site():
    t0 = time.time()
    out = dc.run_dir()
    pages = dc.build_site_subprocess(out)
    return {'out': out, 'site': out/'site', 'pages': {p.rel: p for p in pages}, 'secs': time.time() - t0}


@pytest.mark.parametrize('rel', NOTEBOOKS)
def test_page_builds_and_outputs_are_clean(site, rel, capsys):
    "nbdev's docs processing succeeds; no traceback, local path, empty or missing image in the outputs; links resolve."
    page = site['pages'][rel]
    if rel == NOTEBOOKS[0]:
        _say(capsys, f"site built in {site['secs']:.1f}s: {site['site']}")
        for w in (w for p in site['pages'].values() for w in p.warnings): _say(capsys, f'warning: {w}')
    if page.problems: pytest.fail(f'{rel}:\n' + '\n'.join(page.problems), pytrace=False)
    assert page.html is not None and page.html.stat().st_size > 0


@pytest.fixture(scope='module')
def browser(request):
    if (why := dc.browser_unavailable()): pytest.skip(f'browser checks skipped: {why}')
    site = request.getfixturevalue('site')
    t0 = time.time()
    pages = [p for p in site['pages'].values() if p.html is not None]
    shots = site['out']/'screenshots'
    shutil.rmtree(shots, ignore_errors=True)
    api = [p for p in pages if dc.section_of(Path(p.rel)) == 'API']
    want = {Path(dc.page_name(p.rel)).stem for p in pages if Path(p.rel).stem == 'index'}
    want |= {Path(dc.page_name(p.rel)).stem for p in api[:1] + api[-1:]}
    res = dc.check_in_browser(pages, shots, shot_pages=want)
    return {'results': res, 'shots': sorted(shots.glob('*.png')), 'secs': time.time() - t0}


@pytest.mark.parametrize('rel', NOTEBOOKS)
def test_page_in_chromium(browser, site, rel, capsys):
    "The page loads in headless Chromium without console errors, every image decodes, no traceback is shown."
    if rel == NOTEBOOKS[0]:
        _say(capsys, f"{len(browser['results'])} pages opened in Chromium in {browser['secs']:.1f}s; "
                     f"screenshots: {', '.join(map(str, browser['shots']))}")
    if rel not in browser['results']: pytest.skip(f'{rel} has no page: see test_page_builds_and_outputs_are_clean[{rel}]')
    probs = browser['results'][rel]
    if probs: pytest.fail(f'{rel}:\n' + '\n'.join(probs), pytrace=False)

# --------------------------------------------------------------------------------------------------------------
# The checker itself fails on a broken notebook and passes a clean one
# --------------------------------------------------------------------------------------------------------------

def _png(blank=False):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    if not blank: plt.plot([0, 1, 2], [0, 1, 0])
    else: plt.axis('off')
    buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _with_outputs(nb, outputs):
    code = nbformat.v4.new_code_cell('plot()')
    code.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells.append(code)
    return nb


def _disp(data): return {'output_type': 'display_data', 'data': data, 'metadata': {}}


@pytest.fixture
def tiny_site(tmp_path):
    nbs = tmp_path/'nbs'; nbs.mkdir()
    good = _with_outputs(_mini_nb('Good page'), [_disp({'image/png': _png(), 'text/plain': '<Figure>'}),
                                                  {'output_type': 'stream', 'name': 'stdout', 'text': 'acc 0.91\n'}])
    bad = _with_outputs(_mini_nb('Broken page'), [
        {'output_type': 'error', 'ename': 'ValueError', 'evalue': 'boom',
         'traceback': ['Traceback (most recent call last)', 'ValueError: boom']},
        {'output_type': 'stream', 'name': 'stderr',
         'text': 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 3\n'},
        {'output_type': 'stream', 'name': 'stdout', 'text': 'saved to /work/main/runs/demo/prior.npy\n'},
        _disp({'image/png': '', 'text/plain': '<Figure size 360x288 with 1 Axes>'}),
        _disp({'image/png': _png(blank=True)}),
        _disp({'text/plain': '<Figure size 360x288 with 1 Axes>'}),
        _disp({'text/html': '<script>console.error("as3l-console-boom")</script>'}),
        _disp({'text/html': '<script>throw new Error("as3l-uncaught-boom")</script>'}),
    ])
    bad.cells.append(nbformat.v4.new_markdown_cell('See [the data page](01_data.ipynb) and [core](core.html).'))
    nbformat.write(good, nbs/'good.ipynb'); nbformat.write(bad, nbs/'broken.ipynb')
    dc.write_sidebar(nbs)
    entries = dc.sidebar_entries(nbs/'sidebar.yml')
    site = tmp_path/'site'
    pages = {n: dc.build_page(f'{n}.ipynb', site, entries, nbs) for n in ('good', 'broken')}
    for p in pages.values(): p.problems += dc.link_problems(p, site, dc.site_url(), nbs)
    return pages


def test_checker_fails_on_broken_notebook(tiny_site):
    good, bad = tiny_site['good'], tiny_site['broken']
    assert good.problems == [], good.problems
    text = '\n'.join(bad.problems)
    for needle in ['stored traceback (ValueError: boom)', 'output contains a traceback', 'local path',
                   'image/png output is empty', 'blank (one flat colour', 'no image was stored',
                   "link to missing notebook '01_data.ipynb'", "link to missing page 'core.html'"]:
        assert needle in text, f'checker missed {needle!r}:\n{text}'
    assert bad.title == 'Broken page' and bad.n_images == 2


def test_browser_check_fails_on_broken_page(tiny_site):
    if (why := dc.browser_unavailable()): pytest.skip(f'browser checks skipped: {why}')
    res = dc.check_in_browser(list(tiny_site.values()))
    assert res['good.ipynb'] == [], res['good.ipynb']
    text = '\n'.join(res['broken.ipynb'])
    assert 'as3l-console-boom' in text and 'as3l-uncaught-boom' in text, text
    assert 'image does not render' in text, text


@pytest.mark.skipif(not shutil.which('pandoc'), reason='pandoc not installed (Quarto bundles it; the filter is Lua)')
def test_fold_long_code_filter(tmp_path):
    "nbs/fold_long_code.lua folds long code cells and leaves short or explicitly folded ones alone."
    long = '\n'.join(f'x{i} = {i}' for i in range(30))
    md = (f'```{{.python .cell-code}}\n{long}\n```\n\n```{{.python .cell-code}}\nshort = 1\n```\n\n'
          f'```{{.python .cell-code code-fold="show"}}\n{long}\n```\n')
    (tmp_path/'a.md').write_text(md)
    out = subprocess.run(['pandoc', '-f', 'markdown', '-t', 'json', '--lua-filter', str(NBS/'fold_long_code.lua'),
                          '-M', 'fold-long-code-lines=25', str(tmp_path/'a.md')], capture_output=True, text=True, check=True)
    import json
    blocks = json.loads(out.stdout)['blocks']
    attrs = [dict(b['c'][0][2]) for b in blocks]
    assert attrs == [{'code-fold': 'true', 'code-summary': 'Show the code (30 lines)'}, {}, {'code-fold': 'show'}]

# --------------------------------------------------------------------------------------------------------------
# API docs: every exported name is documented
# --------------------------------------------------------------------------------------------------------------

def _exported(errors: list):
    "(module, name, object) for every name in every as3l module's __all__; import failures go to `errors`."
    import as3l
    for m in pkgutil.iter_modules(as3l.__path__):
        if m.name.startswith('_'): continue
        try: mod = importlib.import_module(f'as3l.{m.name}')
        except Exception as e: errors.append(f'as3l.{m.name} does not import ({type(e).__name__}: {e})'); continue
        for name in getattr(mod, '__all__', []):
            if not hasattr(mod, name): errors.append(f'as3l.{m.name}.__all__ names {name!r}, which is not defined')
            else: yield mod, name, getattr(mod, name)


def _own_doc(obj):
    doc = obj.__dict__.get('__doc__') if inspect.isclass(obj) else obj.__doc__
    doc = (doc or '').strip()
    if inspect.isclass(obj) and doc.startswith(obj.__name__ + '('): return ''   # dataclass' generated signature
    return doc


def test_exported_names_have_docstrings():
    missing, n = [], 0
    for mod, name, obj in _exported(missing):
        if not (inspect.isfunction(obj) or inspect.isclass(obj)): continue   # constants, registries
        if getattr(obj, '__module__', '').split('.')[0] != 'as3l': continue    # re-exported from elsewhere
        n += 1
        if not _own_doc(obj): missing.append(f'{mod.__name__}.{name}')
    assert n > 0
    assert not missing, 'exported without a docstring (show_doc renders nothing):\n' + '\n'.join(missing)


def test_exported_functions_document_their_arguments():
    "STYLE.md: documented arguments (a comment after each, fastcore docments), so show_doc renders a table."
    from fastcore.docments import docments
    missing = []
    for mod, name, obj in _exported(missing):
        if not inspect.isfunction(obj) or obj.__module__.split('.')[0] != 'as3l': continue
        try: d = docments(obj, full=False)
        except Exception: continue
        bad = [k for k, v in d.items() if k not in ('return', 'self', 'cls') and not v
               and inspect.signature(obj).parameters.get(k, None) is not None
               and inspect.signature(obj).parameters[k].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                                     inspect.Parameter.VAR_KEYWORD)]
        if bad: missing.append(f"{mod.__name__}.{name}({', '.join(bad)})")
    assert not missing, 'arguments without a docments comment:\n' + '\n'.join(missing)
