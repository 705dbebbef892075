"""Docs site: configuration, sidebar in sync, every page processed by nbdev, rendered and opened in headless Chromium.

Quarto is not available here, so the pages are built the way `nbdev-docs` prepares them (nbdev's own docs processors:
front matter, directives, show_doc, hidden cells dropped) and converted with nbconvert; see tests/docs_check.py.
The checked site and screenshots are written to `_docs_check/run-*/` (it git-ignores itself); the path is printed.
Without Chromium the browser tests are skipped with the reason; the static checks always run.
"""
import base64, importlib, inspect, io, json, pkgutil, re, shutil, subprocess, sys, time
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
    assert secs == sorted(secs, key=dc.SECTIONS.index), f'sections in order: {dc.SECTIONS}'
    for sec in dc.SECTIONS:
        pages = [nb for s, nb in entries if s == sec]
        assert pages == sorted(pages), f'{sec}: pages in paper order (numbered names)'
    method = [nb for s, nb in entries if s == 'The method']
    stages = [int(re.match(r'Stage (\d)', dc.title_of(Path(nb))).group(1)) for nb in method]
    assert stages == sorted(stages) and set(stages) == {1, 2, 3, 4}, f'The method: stages 1-4 in order, got {stages}'
    assert not any(nb.startswith(('1', '2')) for s, nb in entries if s == 'Library reference')


def test_stage_lessons_are_the_method():
    "The stage lessons (their titles name the stage) and nothing else form 'The method'."
    want = {'03_simsiam.ipynb': 1, '03a_features.ipynb': 1, '05_active.ipynb': 2, '06_propagate.ipynb': 3,
            '07_flexmatch.ipynb': 4, '07a_ssl_loop.ipynb': 4}
    have = {nb: dc.title_of(Path(nb)) for s, nb in dc.sidebar_entries() if s == 'The method'}
    assert sorted(have) == sorted(want), have
    for nb, stage in want.items(): assert have[nb].startswith(f'Stage {stage}: '), (nb, have[nb])


def _mini_nb(title, code='x = 1', default_exp=None):
    cells = [nbformat.v4.new_markdown_cell(f'# {title}\n> {title} in one line.')]
    if default_exp: cells.append(nbformat.v4.new_code_cell(f'#| default_exp {default_exp}'))
    cells.append(nbformat.v4.new_code_cell(code))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    return nb


def test_sidebar_check_fails_when_a_notebook_is_missing(tmp_path):
    for name, exp in [('index', None), ('00_core', 'core'), ('01_data', 'data'), ('10_tutorial.digits', None),
                      ('20_experiments.table1', None)]:
        nbformat.write(_mini_nb(name, default_exp=exp), tmp_path/f'{name}.ipynb')
    nbformat.write(_mini_nb('Stage 1: pretraining', default_exp='simsiam'), tmp_path/'03_simsiam.ipynb')
    (tmp_path/'_hidden.ipynb').write_text('{}')   # skipped, as nbdev skips it
    dc.write_sidebar(tmp_path)
    assert dc.sidebar_problems(tmp_path) == []
    d = yaml.safe_load((tmp_path/'sidebar.yml').read_text())['website']['sidebar']['contents']
    assert d == [{'section': 'Get started', 'contents': ['index.ipynb']},
                 {'section': 'Tutorials', 'contents': ['10_tutorial.digits.ipynb']},
                 {'section': 'The method', 'contents': ['03_simsiam.ipynb']},
                 {'section': 'Reproducing the paper', 'contents': ['20_experiments.table1.ipynb']},
                 {'section': 'Library reference', 'contents': ['00_core.ipynb', '01_data.ipynb']}]
    nbformat.write(_mini_nb('Stage 2: selection', default_exp='active'), tmp_path/'05_active.ipynb')
    probs = dc.sidebar_problems(tmp_path)
    assert any('05_active.ipynb is missing' in p for p in probs), probs
    dc.write_sidebar(tmp_path); assert dc.sidebar_problems(tmp_path) == []
    assert ('The method', '05_active.ipynb') in dc.sidebar_entries(tmp_path/'sidebar.yml')
    (tmp_path/'01_data.ipynb').unlink()
    assert any('01_data.ipynb' in p for p in dc.sidebar_problems(tmp_path))

# --------------------------------------------------------------------------------------------------------------
# Numbers in prose come from the run
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('rel', NOTEBOOKS)
def test_prose_numbers_are_in_the_outputs(rel):
    "A measured number typed into markdown is shown by the notebook's outputs (or, where the cell cites a benchmark, bench/README)."
    probs = dc.prose_number_problems(json.loads((dc.NBS/rel).read_text()), rel)
    assert not probs, '\n'.join(probs)


def test_prose_number_rule():
    "Typed numbers fail unless an output shows them; the paper's quotes, stated numbers and cited benchmarks are told apart."
    def nb(md, out='', code='x = 1'):
        c = nbformat.v4.new_code_cell(code)
        c.outputs = [nbformat.v4.new_output('stream', name='stdout', text=out)]
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(md), c])
    md = 'The model ends at 94.2 % after 56 s, 0.93x the baseline.'
    probs = dc.prose_number_problems(nb(md, 'accuracy 94.2 %'), 'x')
    assert [re.search(r"'([\d.]+)' is not in", p).group(1) for p in probs] == ['56', '0.93'], probs
    assert not dc.prose_number_problems(nb(md, 'accuracy 0.942, 56 s, speed-up 0.93'), 'x')    # 94.2 % shown as 0.942
    assert not dc.prose_number_problems(nb('The paper reports 84.4 % with 10 labels.'), 'x')    # a quote of the paper
    assert not dc.prose_number_problems(nb('A 90 % classifier. <!-- not measured: 90 -->'), 'x')
    assert not dc.prose_number_problems(nb('A table of `12.5 %` and $50\\%$ and 200,000 x 512 and 6,000 points.'), 'x')
    bench = (Path(dc.__file__).parents[1]/'bench'/'README.md').read_text()
    assert '0.37x' in bench and '123.45' not in bench
    assert not dc.prose_number_problems(nb('Benchmark 13 measured 0.37x.'), 'x')
    assert dc.prose_number_problems(nb('Benchmark 13 measured 123.45 %.', '123.45 %'), 'x')   # a cited benchmark must hold it

# --------------------------------------------------------------------------------------------------------------
# Previous / Next footers follow the sidebar
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('rel', NOTEBOOKS)
def test_page_ends_with_previous_next(rel):
    "Every page's last markdown cell links the previous and next page of the sidebar (generated: --write-footers)."
    probs = dc.footer_problems(rel)
    assert not probs, '\n'.join(probs)


def test_footer_writer_and_check(tmp_path):
    for name, exp in [('index', None), ('00_core', 'core'), ('10_tutorial.digits', None)]:
        nb = _mini_nb(name, default_exp=exp)
        nb.cells.append(nbformat.v4.new_code_cell('#| hide\nimport nbdev; nbdev.nbdev_export()'))
        nbformat.write(nb, tmp_path/f'{name}.ipynb')
    nbformat.write(_mini_nb('Stage 2: selection', default_exp='active'), tmp_path/'05_active.ipynb')
    dc.write_sidebar(tmp_path)
    order = dc.reading_order(tmp_path)
    assert order == ['index.ipynb', '10_tutorial.digits.ipynb', '05_active.ipynb', '00_core.ipynb']
    assert 'no "Previous/Next" footer' in dc.footer_problems('05_active.ipynb', tmp_path)[0]
    assert sorted(dc.write_footers(['0*.ipynb'], tmp_path)) == ['00_core.ipynb', '05_active.ipynb']   # only those
    assert dc.footer_problems('index.ipynb', tmp_path) and not dc.footer_problems('05_active.ipynb', tmp_path)
    assert dc.write_footers(None, tmp_path) == ['index.ipynb', '10_tutorial.digits.ipynb']
    assert dc.write_footers(None, tmp_path) == [], 'idempotent'
    cells = nbformat.read(tmp_path/'05_active.ipynb', as_version=4).cells
    assert cells[-1].source == ('Previous: [10_tutorial.digits](tutorial.digits.html) · '
                                'Next: [00_core](core.html)')
    assert dc.footer_text('index.ipynb', tmp_path) == 'Next: [10_tutorial.digits](tutorial.digits.html)'
    core = nbformat.read(tmp_path/'00_core.ipynb', as_version=4).cells
    assert core[-2].source == 'Previous: [Stage 2: selection](active.html)', 'footer last, before the hidden export cell'
    assert 'nbdev_export' in core[-1].source
    # a new page makes the neighbours' footers stale, and the check names the fix
    nbformat.write(_mini_nb('Stage 3: prior', default_exp='propagate'), tmp_path/'06_propagate.ipynb')
    dc.write_sidebar(tmp_path)
    p = dc.footer_problems('05_active.ipynb', tmp_path)
    assert p and 'stale' in p[0] and '--write-footers 05_active.ipynb' in p[0], p
    assert dc.write_footers(['05_active.ipynb', '06_propagate.ipynb', '00_core.ipynb'], tmp_path)
    assert all(not dc.footer_problems(n, tmp_path) for n in dc.reading_order(tmp_path))


def test_nbdev_entry_point_links_backticked_names():
    "pyproject.toml declares nbdev's entry point, so `run_as3l` in any notebook links to its API page."
    import tomllib
    from importlib.metadata import entry_points
    eps = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['entry-points']['nbdev']
    assert eps == {'as3l': 'as3l._modidx:d'}
    assert any(e.name == 'as3l' and e.value == 'as3l._modidx:d' for e in entry_points(group='nbdev')), \
        'entry point not installed: run `pip install -e .` again'
    with dc._in_repo():
        from nbdev.doclinks import NbdevLookup
        line = NbdevLookup().link_line('see `run_as3l` and `plot_tsne`')
    links = re.findall(r'\]\((https://[^)#]+)', line)
    assert len(links) == 2, line
    base = dc.site_url().rstrip('/') + '/'
    pages = {dc.page_name(nb) for nb in NOTEBOOKS}
    for url in links: assert url.startswith(base) and url[len(base):] in pages, url

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
    api = [p for p in pages if dc.section_of(Path(p.rel)) == 'Library reference']
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


# --------------------------------------------------------------------------------------------------------------
# Rendering as Quarto does: equations (MathJax), folded long code, nothing cut off at the right edge
# --------------------------------------------------------------------------------------------------------------

def test_raw_dollars_follow_pandoc():
    "A `$` pandoc would not pair into math (Quarto then shows it raw) is found; math, code and `\\$` are not."
    ok = ['Eq. $\\mathcal{L} = \\sum_i x_i$ holds.', '$$\n\\frac{1}{N}\\sum_i x_i \\qquad (1)\n$$', 'costs \\$5 and \\$6',
          'code `echo $HOME` and\n```\nprint("$x")\n```\n', 'a $1/\\sqrt{d}$ and $\\tau_c$.']
    for md in ok: assert dc.raw_dollars(md) == [], md
    bad = {'a $ x$ b': 2, 'a $x $ b': 2, 'costs $5 and $6': 2, '$x$5 is not closed': 2, 'open $x\n\nnext paragraph$': 2,
           'empty $$$$': 2}
    for md, n in bad.items(): assert len(dc.raw_dollars(md)) == n, (md, dc.raw_dollars(md))


def test_code_fold_matches_the_lua_filter():
    "The check folds as nbs/fold_long_code.lua does: long cells closed with their length, a cell's own code-fold wins."
    n = dc.fold_long_code_lines()
    assert n == 25 and 'local threshold = 25' in (NBS/'fold_long_code.lua').read_text()
    long, short = '\n'.join(f'x{i} = {i}' for i in range(n + 5)), '\n'.join(['x = 1'] * n)
    assert dc.code_fold(long, {}, n) == ('closed', f'Show the code ({n + 5} lines)')
    assert dc.code_fold(short, {}, n) == (None, '')
    assert dc.code_fold(long, {'code-fold': 'show'}, n) == ('show', 'Show the code')
    assert dc.code_fold(long, {'code-fold': 'false'}, n) == (None, '')
    assert dc.code_fold(short, {'code-fold': 'true', 'code-summary': 'Plumbing'}, n) == ('closed', 'Plumbing')


def _render_nb(tmp_path, cells, name='render'):
    nbs = tmp_path/'nbs'; nbs.mkdir(exist_ok=True)
    nb = _mini_nb('Render page'); nb.cells += cells
    nbformat.write(nb, nbs/f'{name}.ipynb'); dc.write_sidebar(nbs)
    return dc.build_page(f'{name}.ipynb', tmp_path/'site', dc.sidebar_entries(nbs/'sidebar.yml'), nbs)


def test_long_code_is_folded_in_the_page(tmp_path):
    long = '\n'.join(f'x{i} = {i}' for i in range(30))
    page = _render_nb(tmp_path, [nbformat.v4.new_code_cell(long), nbformat.v4.new_code_cell('short = 1'),
                                 nbformat.v4.new_code_cell('#| code-fold: show\n' + long)])
    html_ = page.html.read_text()
    assert html_.count('<details class="code-fold"><summary>Show the code (30 lines)</summary>') == 1
    assert len(re.findall(r'<details class="code-fold" open(?:="")?><summary>Show the code</summary>', html_)) == 1
    assert html_.count('<details class="code-fold"') == 2, 'the short cell is not folded'


def test_math_renders_and_raw_dollars_fail(tmp_path):
    "Equations typeset by MathJax in Chromium; a `$` left raw and a TeX error are reported, statically and in the page."
    md = ('Inline $\\lVert f - c\\rVert_2^2$ and display:\n\n$$\\mathcal{L} = \\frac{1}{CN}\\sum_i x_i \\qquad (1)$$\n\n'
          'A TeX error: $\\frac{1}$.\n\nA price of $ 5 here.')
    page = _render_nb(tmp_path, [nbformat.v4.new_markdown_cell(md)])
    assert any('raw `$`' in p for p in page.problems), page.problems          # static: pandoc's rules
    if (why := dc.browser_unavailable() or dc.mathjax_unavailable()): pytest.skip(f'math in the browser skipped: {why}')
    with dc.Chromium() as br: info = br.open(page.html.resolve().as_uri())
    assert info['math']['loaded'] and info['math']['n'] >= 2, info['math']
    assert info['console_errors'] == [], info['console_errors']               # fonts and extensions load from disk
    probs = '\n'.join(dc.browser_problems(page, info))
    assert 'raw `$` left in the page text' in probs and 'price of $ 5' in probs, probs
    assert 'TeX error in an equation' in probs, probs
    good = _render_nb(tmp_path, [nbformat.v4.new_markdown_cell('Only $x^2$ and $$y = 1$$ here (Sec. 3.2, a & b).')], name='good')
    assert good.problems == []
    with dc.Chromium() as br: info = br.open(good.html.resolve().as_uri())
    assert dc.browser_problems(good, info) == [] and info['math']['n'] == 2, info['math']   # parentheses are not math


def test_math_check_says_why_it_is_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(dc, 'MATHJAX_DIR', tmp_path/'none')
    assert 'npm install --prefix .cache/mathjax mathjax@3' in dc.mathjax_unavailable()
    assert '.cache/mathjax' in (ROOT/'.ci'/'run').read_text() and '.cache/' in (ROOT/'.gitignore').read_text()


def test_content_cut_off_at_the_right_edge_is_reported(tmp_path):
    if (why := dc.browser_unavailable()): pytest.skip(f'browser checks skipped: {why}')
    wide = nbformat.v4.new_code_cell('wide()')
    row = ''.join(f'<td>column_{i}_with_a_long_header</td>' for i in range(40))
    wide.outputs = [nbformat.from_dict(_disp({'text/html': f'<table><tr>{row}</tr></table>', 'text/plain': 'table'}))]
    long_code = nbformat.v4.new_code_cell('x = "' + 'a' * 400 + '"')    # wraps, as code-overflow: wrap does
    page = _render_nb(tmp_path, [wide, long_code])
    with dc.Chromium() as br: info = br.open(page.html.resolve().as_uri())
    probs = dc.cut_off_problems(page, info)
    assert len(probs) == 1 and 'column_0_with_a_long_header' in probs[0] and '1280 px' in probs[0], probs


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
