"""Build and check the as3l docs site without Quarto.

Quarto cannot be installed on the development machine, so this module reproduces the part of `nbdev-docs` that can
go wrong in a notebook: it runs nbdev's own docs processors on every notebook (the same `FilterDefaults` procs that
`nbdev-docs` uses: front matter, directives, `show_doc` cells, hidden cells dropped), converts the processed notebooks
to HTML with nbconvert, writes them to a small site folder with the sidebar of `nbs/sidebar.yml`, and opens every page
in headless Chromium through the DevTools protocol (console errors, images that fail to decode, screenshots).

It renders a page as Quarto's site would where that can go wrong: equations through MathJax 3 (the npm package
`mathjax`, installed into `.cache/mathjax` by `npm install --prefix .cache/mathjax mathjax@3`; without it the math
checks are skipped with that reason), long code cells folded as `nbs/fold_long_code.lua` folds them, and source code
wrapped (`code-overflow: wrap`). In Chromium at 1280 px it then fails on a raw `$` left in a page's visible text, on a
TeX error, and on content cut off at the page's right edge.

The reading path is generated too: `SECTIONS`/`section_of` group the pages of the sidebar, and every page ends with a
"Previous: ... · Next: ..." markdown cell (`footer_text`) that follows the sidebar order.

Static checks run everywhere; the browser checks need Chromium (`/usr/bin/chromium`, Debian package `chromium`).

Command line (from the repo root):
    python tests/docs_check.py --write-sidebar          # regenerate nbs/sidebar.yml from the notebooks in nbs/
    python tests/docs_check.py --write-footers [NB...]  # write the Previous/Next footer of NB... (default: every page)
    python tests/docs_check.py                          # build _docs_check/run-*/site, check every page, screenshots
"""
from __future__ import annotations

import base64, binascii, contextlib, html, html.parser, io, json, os, re, shutil, subprocess, sys, tempfile, time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
SIDEBAR = NBS/'sidebar.yml'
CHECK_DIR = ROOT/'_docs_check'   # run folder for the checked site and screenshots; it git-ignores itself
SECTIONS = ('Get started', 'Tutorials', 'The method', 'Reproducing the paper', 'Library reference')
MATHJAX_DIR = ROOT/'.cache'/'mathjax'/'node_modules'/'mathjax'/'es5'   # `npm install --prefix .cache/mathjax mathjax@3`
MATHJAX_JS = 'tex-chtml-full.js'                                      # the bundle Quarto's HTML pages load

# ---------------------------------------------------------------------------------------------------------------
# Notebook list and sidebar
# ---------------------------------------------------------------------------------------------------------------

_re_default_exp = re.compile(r'^\s*#\|\s*default_exp\s+\S+', re.MULTILINE)


def _sort_key(rel: Path):
    "Reading order: index first, then by path (numbered names sort in paper order: 00_, 00a_, 01_, ..., 1x_)."
    return (0 if rel.stem == 'index' and len(rel.parts) == 1 else 1, [p.lower() for p in rel.parts])


def list_notebooks(nbs: Path = NBS) -> list[Path]:
    "Notebooks that nbdev renders as pages (same skip rules as `nbdev-docs`), relative to `nbs`, in reading order."
    nbs = Path(nbs)
    out = []
    for p in nbs.rglob('*.ipynb'):
        rel = p.relative_to(nbs)
        # nbglob's defaults: skip files and folders starting with `_` or `.` (checkpoints, _proc, ...)
        if any(part.startswith(('_', '.')) for part in rel.parts): continue
        out.append(rel)
    return sorted(out, key=_sort_key)


def _read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding='utf-8'))


_re_title = re.compile(r'^#\s+(.+?)\s*$', re.MULTILINE)
_re_stage = re.compile(r'^Stage \d\b')
_re_paper = re.compile(r'^2\d[a-z]?_')        # 20_experiments.table1 ... : the paper's tables and figures


def title_of(rel: Path, nbs: Path = NBS) -> str:
    "A page's title: the `# Title` line of its first markdown cell ('' when it has none)."
    nb = _read_json(Path(nbs)/rel)
    md = next((''.join(c.get('source', '')) for c in nb.get('cells', []) if c.get('cell_type') == 'markdown'), '')
    m = _re_title.match(md.lstrip())
    return m.group(1) if m else ''


def section_of(rel: Path, nbs: Path = NBS) -> str:
    """Sidebar section of a notebook, as a reader uses the site:
    index -> 'Get started'; a library notebook (`#| default_exp`) titled "Stage N: ..." -> 'The method';
    any other library notebook -> 'Library reference'; `2x_` notebooks -> 'Reproducing the paper'; the rest -> 'Tutorials'."""
    rel = Path(rel)
    if rel.stem == 'index' and len(rel.parts) == 1: return 'Get started'
    nb = _read_json(Path(nbs)/rel)
    src = '\n'.join(''.join(c.get('source', '')) for c in nb.get('cells', []) if c.get('cell_type') == 'code')
    if _re_default_exp.search(src): return 'The method' if _re_stage.match(title_of(rel, nbs)) else 'Library reference'
    return 'Reproducing the paper' if _re_paper.match(rel.name) else 'Tutorials'


def sidebar_dict(nbs: Path = NBS) -> dict:
    "The `website.sidebar` for Quarto: the `SECTIONS` in order, each listing its notebooks in reading order."
    secs = {s: [] for s in SECTIONS}
    for rel in list_notebooks(nbs): secs[section_of(rel, nbs)].append(rel.as_posix())
    contents = [{'section': s, 'contents': v} for s, v in secs.items() if v]
    return {'website': {'sidebar': {'contents': contents}}}


SIDEBAR_HEADER = ("# GENERATED by `python tests/docs_check.py --write-sidebar` from the notebooks in nbs/.\n"
                  "# tests/test_docs.py fails when a notebook is missing from it or the order is stale: re-run the command.\n")


def sidebar_yaml(nbs: Path = NBS) -> str:
    return SIDEBAR_HEADER + yaml.safe_dump(sidebar_dict(nbs), sort_keys=False, default_flow_style=False, indent=2)


def write_sidebar(nbs: Path = NBS) -> Path:
    "Regenerate `nbs/sidebar.yml` (only rewrites the file when it changed)."
    path = Path(nbs)/'sidebar.yml'
    text = sidebar_yaml(nbs)
    if not path.exists() or path.read_text() != text: path.write_text(text)
    return path


def sidebar_entries(path: Path = SIDEBAR) -> list[tuple[str, str]]:
    "Flatten a sidebar.yml into `(section, notebook)` pairs, in the order they are listed."
    d = yaml.safe_load(Path(path).read_text()) or {}
    out = []
    def walk(items, sec):
        for it in items or []:
            if isinstance(it, str): out.append((sec, it))
            elif isinstance(it, dict) and 'contents' in it: walk(it['contents'], it.get('section', sec))
            elif isinstance(it, dict) and 'href' in it: out.append((sec, it['href']))
    walk(d.get('website', {}).get('sidebar', {}).get('contents', []), '')
    return out


def sidebar_problems(nbs: Path = NBS) -> list[str]:
    "Why `nbs/sidebar.yml` does not list every notebook, in reading order and in the right section (empty: in sync)."
    nbs = Path(nbs); path = nbs/'sidebar.yml'
    fix = 'run `python tests/docs_check.py --write-sidebar`'
    if not path.exists(): return [f'{path} is missing: {fix}']
    have = sidebar_entries(path)
    want = [(sec, nb) for d in sidebar_dict(nbs)['website']['sidebar']['contents'] for sec in [d['section']]
            for nb in d['contents']]
    listed, nbs_now = [nb for _, nb in have], [nb for _, nb in want]
    probs = [f'notebook {nb} is missing from {path.name}: {fix}' for nb in nbs_now if nb not in listed]
    probs += [f'{path.name} lists {nb}, which is not a notebook in {nbs.name}/: {fix}' for nb in listed if nb not in nbs_now]
    if not probs and have != want:
        probs.append(f'{path.name} is out of reading order or sections: has {have}, want {want}: {fix}')
    if not probs and path.read_text() != sidebar_yaml(nbs): probs.append(f'{path.name} was edited by hand: {fix}')
    return probs


def page_name(rel: str | Path) -> str:
    "HTML file name nbdev gives a notebook page (numbers stripped: `00_core.ipynb` -> `core.html`)."
    from nbdev.config import nbpath2html
    return nbpath2html(Path(rel)).as_posix()

# ---------------------------------------------------------------------------------------------------------------
# Previous / Next: the last markdown cell of every page follows the sidebar's reading order
# ---------------------------------------------------------------------------------------------------------------

FOOTER_ID = 'as3l-footer'                            # cell id of the generated footer
_re_footer = re.compile(r'^\s*(?:Previous|Next): \[')
_re_hidden = re.compile(r'^\s*#\|\s*(?:hide|include:\s*false)\s*$', re.MULTILINE)


def reading_order(nbs: Path = NBS) -> list[str]:
    "Every page in the sidebar's order (sections in `SECTIONS` order, notebooks in path order inside a section)."
    return [nb for d in sidebar_dict(nbs)['website']['sidebar']['contents'] for nb in d['contents']]


def _md_link_text(t: str) -> str: return t.replace('[', '\\[').replace(']', '\\]')


def footer_text(rel: str | Path, nbs: Path = NBS, order: list[str] | None = None) -> str:
    "The footer a page must end with: `Previous: [title](page.html) · Next: [title](page.html)` (one side at the ends)."
    order = order if order is not None else reading_order(nbs)
    i = order.index(Path(rel).as_posix())
    link = lambda nb: f'[{_md_link_text(title_of(Path(nb), nbs) or Path(nb).stem)}]({page_name(nb)})'
    parts = ([f'Previous: {link(order[i-1])}'] if i > 0 else []) + ([f'Next: {link(order[i+1])}'] if i + 1 < len(order) else [])
    return ' · '.join(parts)


def _is_footer(c: dict) -> bool:
    return c.get('cell_type') == 'markdown' and bool(_re_footer.match(''.join(c.get('source', ''))))


def footer_problems(rel: str | Path, nbs: Path = NBS, order: list[str] | None = None) -> list[str]:
    "Why a page's last markdown cell is not its current Previous/Next footer (empty: in sync)."
    rel = Path(rel).as_posix()
    want = footer_text(rel, nbs, order)
    cells = _read_json(Path(nbs)/rel).get('cells', [])
    fix = f'run `python tests/docs_check.py --write-footers {rel}`'
    mds = [c for c in cells if c.get('cell_type') == 'markdown']
    have = ''.join(mds[-1].get('source', '')).strip() if mds else ''
    if not any(_is_footer(c) for c in cells): return [f'{rel}: no "Previous/Next" footer (want {want!r}): {fix}']
    if have != want: return [f'{rel}: footer is stale or not the last markdown cell: has {have[:160]!r}, want {want!r}: {fix}']
    if sum(_is_footer(c) for c in cells) > 1: return [f'{rel}: more than one footer cell: {fix}']
    return []


def write_footer(rel: str | Path, nbs: Path = NBS, order: list[str] | None = None) -> bool:
    """Write a page's Previous/Next footer as its last markdown cell, before the trailing hidden cells (the hidden
    `nbdev_export()` cell stays last); an old footer is replaced. Returns True when the notebook changed."""
    from fastcore.nbio import nb2str
    path = Path(nbs)/rel
    text = path.read_text(encoding='utf-8')
    nb = json.loads(text)
    cells = [c for c in nb['cells'] if not _is_footer(c)]
    at = len(cells)
    while at > 0 and cells[at-1].get('cell_type') == 'code' and _re_hidden.search(''.join(cells[at-1].get('source', ''))): at -= 1
    foot = {'cell_type': 'markdown', 'metadata': {}, 'source': [footer_text(rel, nbs, order)]}
    if nb.get('nbformat', 4) >= 4 and nb.get('nbformat_minor', 0) >= 5: foot['id'] = FOOTER_ID
    cells.insert(at, foot)
    nb['cells'] = cells
    new = nb2str(nb)
    if new == text: return False
    path.write_text(new, encoding='utf-8')
    return True


def write_footers(names=None, nbs: Path = NBS) -> list[str]:
    "Write the footers of `names` (notebook names or globs relative to `nbs`; default: every page). Returns those changed."
    order, nbs = reading_order(nbs), Path(nbs)
    if names:
        pick = sorted({r.relative_to(nbs).as_posix() for n in names for r in nbs.glob(n)})
        bad = [n for n in pick if n not in order]
        if bad: raise SystemExit(f'not pages of the site: {bad}')
        if not pick: raise SystemExit(f'no notebook matches {names}')
    else: pick = order
    return [rel for rel in pick if write_footer(rel, nbs, order)]

# ---------------------------------------------------------------------------------------------------------------
# nbdev processing
# ---------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _in_repo():
    old, env = os.getcwd(), os.environ.get('IN_TEST')
    os.chdir(ROOT); os.environ['IN_TEST'] = '1'  # as nbdev's docs driver does: no nbdev_export() side effects
    try: yield
    finally:
        os.chdir(old)
        if env is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = env


def process_notebook(path: Path):
    "Run nbdev's docs processors (`nbdev.processors.FilterDefaults`, as `nbdev-docs` does) on a notebook; returns the processed nb."
    from fastcore.nbio import read_nb
    from nbdev.processors import FilterDefaults
    import warnings
    with _in_repo(), _quiet_mpl(), warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        nb = read_nb(Path(path).resolve())
        FilterDefaults()(nb)
    nb.warnings_ = [str(w.message) for w in ws if 'imports and other code' in str(w.message)]
    return nb


@contextlib.contextmanager
def _quiet_mpl():
    "Non-interactive matplotlib while processors execute import cells."
    old = os.environ.get('MPLBACKEND')
    os.environ['MPLBACKEND'] = 'Agg'
    try: yield
    finally:
        if old is None: os.environ.pop('MPLBACKEND', None)
        else: os.environ['MPLBACKEND'] = old

# ---------------------------------------------------------------------------------------------------------------
# Static checks (no browser)
# ---------------------------------------------------------------------------------------------------------------

# A local path: /work/, /tmp/, /root/, /home/ not inside a URL or a longer path; Windows user folders too.
_re_local_path = re.compile(r'(?<![\w.:/~-])/(?:work|tmp|root|home)/|[A-Za-z]:\\+Users\\+')
_re_traceback = re.compile(r'Traceback \(most recent call last\)|^\w*(?:Error|Exception): .+\n?$|\x1b\[0;31m-{10,}',
                           re.MULTILINE)
_re_fig_repr = re.compile(r'^<(?:Figure|matplotlib\.figure\.Figure) size [\d.]+x[\d.]+ with \d+ Axes>$')
_IMG_MIMES = ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml')
_TEXT_MIMES = ('text/plain', 'text/html', 'text/markdown', 'text/latex', 'application/json')


def _txt(x) -> str: return ''.join(x) if isinstance(x, list) else ('' if x is None else str(x))


def output_texts(out) -> list[str]:
    "All text an output shows (stream text, error trace, text/* data)."
    t = out.get('output_type')
    if t == 'stream': return [_txt(out.get('text'))]
    if t == 'error': return ['\n'.join(out.get('traceback', [])), f"{out.get('ename')}: {out.get('evalue')}"]
    data = out.get('data', {}) or {}
    return [_txt(data[m]) if not isinstance(data[m], (dict, list)) or m != 'application/json' else json.dumps(data[m])
            for m in data if m in _TEXT_MIMES or m.startswith('text/')]


def image_problem(mime: str, payload) -> str | None:
    "Why a stored image output would render empty or broken (None when it is fine)."
    s = _txt(payload).strip()
    if not s: return f'{mime} output is empty'
    if mime == 'image/svg+xml':
        return None if '<svg' in s and len(s) > 100 else f'{mime} output has no drawing ({len(s)} chars)'
    try: raw = base64.b64decode(s, validate=False)
    except (binascii.Error, ValueError) as e: return f'{mime} output is not valid base64 ({e})'
    if len(raw) < 67: return f'{mime} output is only {len(raw)} bytes'
    try:
        from PIL import Image
        im = Image.open(io.BytesIO(raw)); im.load()
    except Exception as e: return f'{mime} output does not decode as an image ({type(e).__name__}: {e})'
    if im.width < 2 or im.height < 2: return f'{mime} output is {im.width}x{im.height} px'
    ext = im.convert('RGBA').getextrema()
    if all(lo == hi for lo, hi in ext[:3]) and ext[3][0] == ext[3][1]:
        return f'{mime} output is blank (one flat colour, {im.width}x{im.height} px): an empty figure'
    return None


def count_images(nb) -> int:
    "Number of image outputs a page shows (one `<img>` per PNG/JPEG/GIF/WEBP output)."
    return sum(1 for c in nb.get('cells', []) for o in c.get('outputs', []) or []
               if any(m in (o.get('data') or {}) for m in _IMG_MIMES if m != 'image/svg+xml'))


def _cell_label(i, cell) -> str:
    src = _txt(cell.get('source')).strip().splitlines()
    first = next((l for l in src if not l.startswith('#|')), src[0] if src else '')
    return f'cell {i} ({first[:60]!r})'


def static_problems(nb, name: str = '') -> list[str]:
    "Problems visible in a notebook's outputs: tracebacks, local paths, empty/missing images. Works on raw or processed nbs."
    probs = []
    for i, cell in enumerate(nb.get('cells', [])):
        lab = f'{name}: {_cell_label(i, cell)}'
        for o in cell.get('outputs', []) or []:
            t = o.get('output_type')
            if t == 'error':
                probs.append(f"{lab}: stored traceback ({o.get('ename')}: {_txt(o.get('evalue'))[:100]})"); continue
            texts = output_texts(o)
            for s in texts:
                m = _re_traceback.search(s)
                if m and (t == 'stream' and o.get('name') == 'stderr' or 'Traceback' in m.group(0) or '\x1b' in m.group(0)):
                    probs.append(f'{lab}: output contains a traceback ({m.group(0).strip()[:80]!r})')
                m = _re_local_path.search(s)
                if m:
                    line = next(l for l in s[m.start():].splitlines() or [''])
                    ctx = (s[max(0, m.start()-30):m.start()] + line)[:100]
                    probs.append(f'{lab}: output contains a local path ({ctx!r})')
            data = o.get('data') or {}
            for mime in _IMG_MIMES:
                if mime in data and (p := image_problem(mime, data[mime])): probs.append(f'{lab}: {p}')
            if t in ('display_data', 'execute_result') and not any(m in data for m in _IMG_MIMES):
                if _re_fig_repr.match(_txt(data.get('text/plain')).strip()):
                    probs.append(f'{lab}: a figure was displayed but no image was stored '
                                 f"({_txt(data.get('text/plain')).strip()}); run with the inline backend and plt.show()")
    return probs

_re_fence = re.compile(r'^(\s*)(```+|~~~+).*?^\1\2[ \t]*$', re.MULTILINE | re.DOTALL)
_re_code_span = re.compile(r'(`+)(?!`).+?(?<!`)\1(?!`)', re.DOTALL)


def _blank(m: re.Match) -> str: return re.sub(r'[^\n]', ' ', m.group(0))


def raw_dollars(md: str) -> list[str]:
    """`$` signs that pandoc's `tex_math_dollars` (what Quarto uses) does not pair into math, so the page shows them raw.

    Rules (pandoc's manual): `$$...$$` is display math; an inline `$` opens math only when a non-space follows it and
    closes it only when a non-space precedes it and no digit follows; math does not span a blank line; `\\$` is a
    literal dollar (fine); code spans and fenced code are not markdown text. Returns a short context for each."""
    text = _re_code_span.sub(_blank, _re_fence.sub(_blank, md))
    out, i, n = [], 0, len(text)
    ctx = lambda j: text[max(0, j-30):j+30].replace('\n', ' ').strip()
    while i < n:
        ch = text[i]
        if ch == '\\': i += 2; continue
        if ch != '$': i += 1; continue
        if text.startswith('$$', i):
            j = text.find('$$', i + 2)
            if j < 0 or not text[i+2:j].strip(): out.append(ctx(i)); i += 2; continue
            i = j + 2; continue
        if i + 1 < n and not text[i+1].isspace():
            j, found = i + 1, False
            while j < n:
                if text[j] == '\\': j += 2; continue
                if text.startswith('\n\n', j) or re.match(r'\n[ \t]*\n', text[j:j+10]): break
                if text[j] == '$' and not text[j-1].isspace() and not (j + 1 < n and text[j+1].isdigit()): found = True; break
                j += 1
            if found: i = j + 1; continue
        out.append(ctx(i)); i += 1
    return out


# A measured number in prose: digits with a unit of time, ratio or percentage ('94.2 %', '0.93x', '56 s', '3 min');
# percentage points only with a decimal ('1.8 points'), since '6,000 points' are data points; '200,000 x 512' is a
# shape. Inline code, math, link targets and HTML comments are not prose. A number a cell states rather than measures
# (a hypothetical classifier's 90 %, a setting) is listed in the cell's '<!-- not measured: ... -->' comment.
_re_measured = re.compile(r'(?<![\w.$\\^_{/-])([+-]?\d[\d,]*(?:\.\d+)?)\s?(%|x\b(?!\s*\d)|s\b|ms\b|min\b|'
                          r'(?<=\.\d)\s?(?:pts|points)\b|(?<=\.\d\d)\s?(?:pts|points)\b)')
_re_not_measured = re.compile(r'<!--\s*not measured:([^>]*)-->')   # numbers a cell states, not measures: '<!-- not measured: 90, 80 -->'
_re_not_prose = re.compile(r'`[^`\n]*`|\$[^$\n]*\$|\]\([^)]*\)|<!--.*?-->', re.S)
_re_paragraph = re.compile(r'\n\s*\n|\n(?=\s*(?:[-*]|\d+\.)\s)')   # a blank line, or a list item's start
_re_sentence = re.compile(r'(?<=[.;!?])\s+(?=[A-Z*(_])')             # inside a paragraph
BENCH_README = ROOT/'bench'/'README.md'


def prose_numbers(md: str) -> list[tuple[str, str, str]]:
    """`(number, source, context)` for each measured number in a markdown cell; `source` says where it must come from:
    'paper' (its sentence quotes the paper: not checked), 'bench' (the cell cites a benchmark or bench/README: the
    number must be in bench/README.md) or 'outputs' (the notebook's own outputs must show it)."""
    text = _re_fence.sub(_blank, md)
    text = _re_not_prose.sub(_blank, text)
    out, cites_bench = [], re.search(r'\bbenchmark \d+|bench/README', text, re.I) is not None
    for para in _re_paragraph.split(text):
        for sent in _re_sentence.split(para):
            quotes_paper = re.search(r"\bpaper('s)?\b|\bSec\. \d|\bTable \d", sent) is not None
            for m in _re_measured.finditer(sent):
                src = 'paper' if quotes_paper else 'bench' if cites_bench else 'outputs'
                out.append((m.group(1).lstrip('+-'), src, ' '.join(sent[max(0, m.start()-50):m.end()+20].split())))
    return out


def prose_number_problems(nb, name: str = '') -> list[str]:
    """Measured numbers typed into markdown that neither the notebook's outputs (or code) nor, where the paragraph
    cites a benchmark, bench/README.md show: prose that will contradict its outputs the next time they are re-run.
    Write such a number through a generated cell (`Markdown(f'...')`) or point to the table that holds it."""
    cells = nb['cells'] if isinstance(nb, dict) else nb.cells
    shown = ' '.join(t for c in cells if c.get('cell_type') == 'code' for o in c.get('outputs', []) for t in output_texts(o))
    shown += ' '.join(_txt(c.get('source')) for c in cells if c.get('cell_type') == 'code')
    bench = BENCH_README.read_text() if BENCH_README.exists() else ''
    def seen(num, unit_pct, where):
        forms = {num, num.replace(',', '')}
        if unit_pct:   # 94.2 % is also shown as 0.942
            v = float(num.replace(',', '')) / 100
            forms |= {f'{v:.{k}f}' for k in range(1, 5) if abs(round(v, k) - v) < 1e-9}
        return any(re.search(r'(?<![\d.])' + re.escape(f) + r'(?![\d])', where) for f in forms)
    probs = []
    for i, c in enumerate(cells):
        if c.get('cell_type') != 'markdown': continue
        md = _txt(c.get('source'))
        stated = {n.strip() for m in _re_not_measured.finditer(md) for n in m.group(1).split(',')}
        for num, src, ctx in prose_numbers(md):
            if src == 'paper' or num in stated: continue
            where, what = (bench, 'bench/README.md') if src == 'bench' else (shown, "the notebook's outputs")
            if not seen(num, '%' in ctx, where):
                probs.append(f'{name}: {_cell_label(i, c)}: {num!r} is not in {what}: "...{ctx}..."')
    return probs


def math_problems(nb, name: str = '') -> list[str]:
    "Markdown cells whose `$` Quarto would show as raw text (see `raw_dollars`)."
    return [f'{name}: {_cell_label(i, c)}: a raw `$` that Quarto shows as text (pandoc pairs `$x$` only with no space '
            f'inside the dollars and no digit after the closing one; write `\\$` for a dollar sign): ...{d}...'
            for i, c in enumerate(nb.get('cells', [])) if c.get('cell_type') == 'markdown'
            for d in raw_dollars(_txt(c.get('source')))]

# ---------------------------------------------------------------------------------------------------------------
# HTML site
# ---------------------------------------------------------------------------------------------------------------

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}
{%- if resources.as3l_mathjax %}
<meta name="as3l-mathjax" content="on">
<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
  processEscapes: true}, options: {ignoreHtmlClass: 'jp-RenderedHTML|as3l-nomath'}};</script>
<script id="MathJax-script" src="{{ resources.as3l_mathjax }}"></script>
{%- endif %}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style>
body { margin: 0; display: flex; align-items: stretch; min-height: 100vh; }
nav.as3l-sidebar { order: 0; flex: 0 0 220px; padding: 12px; background: #f7f7f9; border-right: 1px solid #ddd;
  font: 14px sans-serif; }
nav.as3l-sidebar h4 { margin: 12px 0 4px; font-size: 13px; text-transform: uppercase; color: #555; }
nav.as3l-sidebar a { display: block; padding: 2px 4px; color: #2780e3; text-decoration: none; }
nav.as3l-sidebar a.active { font-weight: bold; color: #000; }
main { order: 1; flex: 1 1 auto; padding: 8px 24px; max-width: 1000px; }
.as3l-description { color: #555; font-style: italic; }
/* Quarto's `code-overflow: wrap` (_quarto.yml): source code wraps instead of running off the page */
.jp-InputArea-editor pre { white-space: pre-wrap; overflow-wrap: anywhere; }
details.code-fold > summary { cursor: pointer; color: #2780e3; font-size: 0.9rem; }
</style>
{%- endblock html_head_css -%}
{%- block input_group -%}
{%- if cell.metadata.get('as3l_fold') -%}
<details class="code-fold"{{ ' open' if cell.metadata.as3l_fold == 'show' else '' }}><summary>{{ cell.metadata.as3l_fold_summary }}</summary>
{{ super() }}
</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock input_group -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.as3l_nav }}
<main>
{%- endblock body_header -%}
"""


def _exporter(workdir: Path):
    from nbconvert import HTMLExporter
    tdir = Path(workdir)/'as3l_check_tpl'
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir/'index.html.j2').write_text(_TEMPLATE)
    (tdir/'conf.json').write_text(json.dumps({'base_template': 'lab', 'mimetypes': {'text/html': True}}))
    return HTMLExporter(extra_template_basedirs=[str(workdir)], template_name='as3l_check_tpl',
                        exclude_input_prompt=True, exclude_output_prompt=True, anchor_link_text='')


_re_qdir = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def fold_long_code_lines(quarto_yml: Path = NBS/'_quarto.yml') -> int:
    "The `fold-long-code-lines` threshold of `_quarto.yml` (what nbs/fold_long_code.lua reads; its default is 25)."
    try: v = (yaml.safe_load(Path(quarto_yml).read_text()) or {}).get('format', {}).get('html', {}).get('fold-long-code-lines')
    except OSError: v = None
    return int(v) if v is not None else 25


def code_fold(source: str, opts: dict, threshold: int) -> tuple[str | None, str]:
    """How Quarto shows a code cell, as nbs/fold_long_code.lua decides it: (`'closed'`, `'show'` or None, summary).
    A cell's own `code-fold` wins (`true` closed, `show` open, `false` never); otherwise a cell longer than
    `threshold` lines is folded, closed, with the summary "Show the code (N lines)"."""
    summary = opts.get('code-summary') or 'Show the code'
    f = str(opts.get('code-fold', '')).lower()
    if f == 'show': return 'show', summary
    if f == 'true': return 'closed', summary
    if f == 'false' or not source.strip(): return None, ''
    n = source.count('\n') + 1
    if n <= threshold: return None, ''
    return 'closed', opts.get('code-summary') or f'Show the code ({n} lines)'


def _apply_quarto_options(nb, fold_lines: int | None = None):
    "Emulate what Quarto does with the cell options nbdev leaves in processed cells (echo/include/output, code-fold), strip them."
    import nbformat
    cells, fm = [], {}
    fold_lines = fold_long_code_lines() if fold_lines is None else fold_lines
    for c in nb.cells:
        c.get('metadata', {}).pop('execution', None)   # timing metadata written by nbdev's CaptureShell
        src = _txt(c.get('source'))
        if c.cell_type == 'raw' and src.lstrip().startswith('---') and not fm:
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            continue
        if c.cell_type == 'code':
            lines, opts = src.splitlines(), {}
            while lines and (m := _re_qdir.match(lines[0])): opts[m.group(1)] = m.group(2).strip('"\''); lines.pop(0)
            c.source = '\n'.join(lines)
            if opts.get('include') == 'false': continue
            if opts.get('output') == 'false': c.outputs = []
            if opts.get('echo') == 'false' or not c.source.strip(): c.metadata.setdefault('transient', {})['remove_source'] = True
            else:
                how, summary = code_fold(c.source, opts, fold_lines)
                if how: c.metadata['as3l_fold'], c.metadata['as3l_fold_summary'] = how, summary
        cells.append(c)
    head = []
    if fm.get('title'): head.append(f"# {fm['title']}")
    if fm.get('description'): head.append(f"<p class='as3l-description'>{fm['description']}</p>")
    if head: cells.insert(0, nbformat.v4.new_markdown_cell('\n\n'.join(head)))
    nb.cells = cells
    return nb, fm


def _title_or_stem(rel) -> str:
    try: return title_of(Path(rel)) or Path(rel).stem
    except (OSError, ValueError): return Path(rel).stem


def _nav_html(entries, current: str) -> str:
    parts, sec = ['<nav class="as3l-sidebar"><strong>as3l</strong>'], None
    for s, rel in entries:
        if s != sec: parts.append(f'<h4>{s}</h4>'); sec = s
        href = page_name(rel)
        cls = ' class="active"' if href == current else ''
        parts.append(f'<a href="{href}"{cls}>{html.escape(_title_or_stem(rel))}</a>')
    parts.append('</nav>')
    return '\n'.join(parts)


@dataclass
class Page:
    "One checked page of the site."
    rel: str                      # notebook path relative to nbs/
    html: Path | None = None      # written HTML page
    title: str = ''
    n_images: int = 0             # image outputs the page should show
    problems: list = field(default_factory=list)   # static problems (processing, outputs, links)
    warnings: list = field(default_factory=list)   # worth fixing, not failing (style)


def mathjax_unavailable() -> str | None:
    "Why pages cannot render math here (None when they can). Set AS3L_DOCS_NO_MATH=1 to skip the math checks on purpose."
    if os.environ.get('AS3L_DOCS_NO_MATH'): return 'AS3L_DOCS_NO_MATH is set'
    if not (MATHJAX_DIR/MATHJAX_JS).is_file():
        return (f'MathJax not installed ({os.path.relpath(MATHJAX_DIR, ROOT)}/{MATHJAX_JS} missing): '
                'run `npm install --prefix .cache/mathjax mathjax@3`')
    return None


def _mathjax_src(site: Path, page_html: Path) -> str | None:
    "Relative URL of MathJax for a page of `site` (linked at `site/_mathjax`), or None when MathJax is unavailable."
    if mathjax_unavailable(): return None
    link = Path(site)/'_mathjax'
    if not link.exists():
        with contextlib.suppress(FileExistsError): link.symlink_to(MATHJAX_DIR, target_is_directory=True)
    return Path(os.path.relpath(link/MATHJAX_JS, Path(page_html).parent)).as_posix()


def build_page(rel: str | Path, site: Path, entries=None, nbs: Path = NBS, exporter=None) -> Page:
    "Check a notebook's stored outputs, process it with nbdev, check the processed page and write it as HTML into `site`."
    import nbformat
    rel = Path(rel); site = Path(site); site.mkdir(parents=True, exist_ok=True)
    page = Page(rel.as_posix())
    raw = nbformat.read(Path(nbs)/rel, as_version=4)
    page.problems += [f'stored: {p}' for p in static_problems(raw, rel.as_posix())]
    page.problems += math_problems(raw, rel.as_posix())
    try: nb = process_notebook(Path(nbs)/rel)
    except Exception as e:
        msg = str(e)
        if len(msg) > 700: msg = msg[:300] + '\n[...]\n' + msg[-400:]
        page.problems.append(f'{rel}: nbdev docs processing failed: {type(e).__name__}: {msg}')
        return page
    for w in getattr(nb, 'warnings_', []):
        cell = w.split('---')[1].strip() if w.count('---') >= 2 else w
        page.warnings.append(f'{rel}: a cell mixes imports with other code, so the docs build executes it '
                             f'(STYLE.md: keep imports in their own cell): {cell[:150]!r}')
    from fastcore.nbio import nb2str
    nb = nbformat.reads(nb2str(nb), as_version=4)  # plain NotebookNode, as nbdev writes it to _proc/
    nb, fm = _apply_quarto_options(nb)
    page.title = str(fm.get('title', ''))
    first_md = next((_txt(c.source) for c in raw.cells if c.cell_type == 'markdown'), '')
    quoted = [l for l in first_md.splitlines() if l.startswith('>')]
    if len(quoted) > 1:
        page.problems.append(f'{rel}: the `> summary` spans {len(quoted)} lines; nbdev keeps only the first as the page '
                             f"description ({str(fm.get('description', ''))[-60:]!r}): make it one line")
    if not page.title: page.problems.append(f'{rel}: page has no title (first markdown cell must be `# Title` + `> summary`)')
    page.problems += [f'page: {p}' for p in static_problems(nb, rel.as_posix())]
    page.n_images = count_images(nb)
    exporter = exporter or _exporter(site.parent)
    name = page_name(rel)
    page.html = site/name
    body, _ = exporter.from_notebook_node(nb, resources={'as3l_nav': _nav_html(entries or [], name),
                                                         'as3l_mathjax': _mathjax_src(site, page.html),
                                                         'metadata': {'name': page.title or rel.stem}})
    page.html.parent.mkdir(parents=True, exist_ok=True)
    page.html.write_text(body, encoding='utf-8')
    return page


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.hrefs = []
    def handle_starttag(self, tag, attrs):
        if tag == 'a': self.hrefs += [v for k, v in attrs if k == 'href' and v]


def link_problems(page: Page, site: Path, site_url: str, nbs: Path = NBS) -> list[str]:
    "Links to the docs site itself (nbdev's backtick links, relative links) must point at pages that exist."
    if page.html is None: return []
    text = re.sub(r'<nav class="as3l-sidebar">.*?</nav>', '', page.html.read_text(encoding='utf-8'), flags=re.DOTALL)
    p = _Links(); p.feed(text)  # the checker's own sidebar is left out: a page that failed to build is reported already
    probs, base = [], site_url.rstrip('/') + '/'
    for h in p.hrefs:
        target = h.split('#')[0].split('?')[0]
        if not target: continue
        if target.startswith(base): target = target[len(base):] or 'index.html'
        elif re.match(r'^[a-z]+:', target) or target.startswith('//'): continue
        else: target = (Path(page.rel).parent/target).as_posix()
        if target.endswith('.ipynb'):
            if not (Path(nbs)/target).exists(): probs.append(f'{page.rel}: link to missing notebook {h!r}')
        elif target.endswith('.html') or target.endswith('/'):
            t = target + 'index.html' if target.endswith('/') else target
            if not (Path(site)/t).exists(): probs.append(f'{page.rel}: link to missing page {h!r}')
    return probs


def site_url() -> str:
    "The docs site's URL from pyproject.toml's [tool.nbdev] (doc_host + doc_baseurl)."
    with _in_repo():
        from nbdev.config import get_config
        cfg = get_config()
        return cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/')

# ---------------------------------------------------------------------------------------------------------------
# Chromium through the DevTools protocol
# ---------------------------------------------------------------------------------------------------------------

def chromium_path() -> str | None:
    "Chromium binary: $CHROMIUM, /usr/bin/chromium, or chromium/chrome on PATH."
    for c in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', shutil.which('chromium'),
              shutil.which('chromium-browser'), shutil.which('google-chrome')):
        if c and Path(c).exists(): return c
    return None


def browser_unavailable() -> str | None:
    "Why the browser checks cannot run here (None when they can). Set AS3L_DOCS_NO_BROWSER=1 to skip them on purpose."
    if os.environ.get('AS3L_DOCS_NO_BROWSER'): return 'AS3L_DOCS_NO_BROWSER is set'
    if not chromium_path(): return 'Chromium not found (install Debian package `chromium` or set $CHROMIUM)'
    try: import websocket  # noqa: F401  (websocket-client, installed with jupyter_server)
    except ImportError: return 'python package websocket-client not installed'
    return None


_PAGE_JS = """(async () => {
  const imgs = Array.from(document.images);
  const res = await Promise.all(imgs.map(async (im) => {
    let decoded = true;
    try { await im.decode(); } catch (e) { decoded = false; }
    return {src: im.getAttribute('src') ? im.getAttribute('src').slice(0, 40) : '', decoded,
            w: im.naturalWidth, h: im.naturalHeight};
  }));
  const outs = Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(e => e.innerText);
  // math: wait for MathJax's first typeset, then look for TeX errors and `$` left in the visible text
  let math = null;
  if (document.querySelector('meta[name="as3l-mathjax"]')) {
    math = {loaded: !!(window.MathJax && MathJax.startup && MathJax.startup.promise), errors: [], raw: [], n: 0};
    if (math.loaded) {
      try { await MathJax.startup.promise; } catch (e) { math.errors.push('MathJax: ' + e); }
      math.n = document.querySelectorAll('mjx-container').length;
      math.errors.push(...Array.from(document.querySelectorAll('mjx-merror'))
        .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120)));
      const skip = 'pre, code, script, style, textarea, mjx-container, nav, .jp-InputArea-editor, details > summary';
      const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = w.nextNode(); n; n = w.nextNode()) {
        const t = n.nodeValue, i = t.indexOf('$');
        if (i < 0 || !n.parentElement || n.parentElement.closest(skip)) continue;
        const r = n.parentElement.getBoundingClientRect();
        if (!r.width && !r.height) continue;     // not visible
        math.raw.push(t.slice(Math.max(0, i - 40), i + 40).replace(/\\s+/g, ' ').trim());
      }
    }
  }
  // content cut off at the right edge: elements wider than the viewport or reaching past it (outermost only)
  const vw = document.documentElement.clientWidth, main = document.querySelector('main') || document.body;
  const wide = new Set();
  for (const e of main.querySelectorAll('*')) {
    if (e.closest('mjx-container') && e.tagName !== 'MJX-CONTAINER') continue;
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (e.scrollWidth > vw + 1 || r.right > vw + 1) wide.add(e);
  }
  const cut = [];
  for (const e of wide) {
    let p = e.parentElement, inner = false;
    while (p && p !== main) { if (wide.has(p)) { inner = true; break; } p = p.parentElement; }
    if (inner) continue;
    const cell = e.closest('.jp-Cell'), cells = Array.from(document.querySelectorAll('.jp-Cell'));
    cut.push({tag: e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/)[0] : ''),
              width: Math.max(e.scrollWidth, Math.round(e.getBoundingClientRect().right)), cell: cell ? cells.indexOf(cell) : -1,
              text: (e.innerText || e.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 70)});
  }
  return {title: document.title, h1: (document.querySelector('h1') || {}).innerText || '', images: res,
          n_outputs: outs.length, tracebacks: outs.filter(t => t.includes('Traceback (most recent call last)')).length,
          body_chars: document.body ? document.body.innerText.length : 0, math, viewport: vw, cut_off: cut};
})()"""


class Chromium:
    "A headless Chromium driven over the DevTools protocol: one browser, one tab, many pages."
    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900, timeout: float = 30):
        import websocket
        self.timeout, self._id, self.events = timeout, 0, []
        self.profile = Path(tempfile.mkdtemp(prefix='as3l-chromium-'))
        args = [binary or chromium_path(), '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--hide-scrollbars',
                '--mute-audio', '--disable-background-networking', '--disable-component-update',
                '--remote-allow-origins=*', '--remote-debugging-port=0', f'--user-data-dir={self.profile}',
                f'--window-size={width},{height}', 'about:blank']
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file, t0 = self.profile/'DevToolsActivePort', time.time()
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None:
                raise RuntimeError(f'chromium exited: {self.proc.stderr.read().decode(errors="replace")[-2000:]}')
            if time.time() - t0 > timeout: self.close(); raise TimeoutError('chromium did not open its DevTools port')
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        self.ws = websocket.create_connection(f'ws://127.0.0.1:{port}{path}', timeout=timeout, suppress_origin=True)
        tid = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=tid, flatten=True)['sessionId']
        for dom in ('Page', 'Runtime', 'Log'): self.send(f'{dom}.enable', session=True)
        self.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def send(self, method: str, session: bool = False, **params):
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params}
        if session: msg['sessionId'] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            r = json.loads(self.ws.recv())
            if r.get('id') == self._id:
                if 'error' in r: raise RuntimeError(f"{method}: {r['error']}")
                return r.get('result', {})
            if 'method' in r: self.events.append(r)

    def _wait_event(self, name: str, t: float):
        t0 = time.time()
        while time.time() - t0 < t:
            if any(e['method'] == name for e in self.events): return True
            self.ws.settimeout(max(0.05, t - (time.time() - t0)))
            try: r = json.loads(self.ws.recv())
            except Exception: break
            finally: self.ws.settimeout(self.timeout)
            if 'method' in r: self.events.append(r)
        return any(e['method'] == name for e in self.events)

    def _drain(self, secs: float = 0.1):
        "Collect late events (errors thrown just after load)."
        end = time.time() + secs
        while time.time() < end:
            self.ws.settimeout(max(0.01, end - time.time()))
            try: r = json.loads(self.ws.recv())
            except Exception: break
            if 'method' in r: self.events.append(r)
        self.ws.settimeout(self.timeout)

    def open(self, url: str) -> dict:
        "Load `url`; return console errors, image decode results and page facts."
        self.events = []
        self.send('Page.navigate', session=True, url=url)
        loaded = self._wait_event('Page.loadEventFired', self.timeout)
        info = self.send('Runtime.evaluate', session=True, expression=_PAGE_JS, awaitPromise=True,
                         returnByValue=True).get('result', {}).get('value', {}) or {}
        self._drain()
        errors = []
        for e in self.events:
            m, p = e['method'], e.get('params', {})
            if m == 'Runtime.exceptionThrown':
                d = p.get('exceptionDetails', {})
                errors.append('uncaught exception: ' + (d.get('exception', {}).get('description') or d.get('text', ''))[:300])
            elif m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                errors.append('console.error: ' + ' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', []))[:300])
            elif m == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
                en = p['entry']
                if en.get('source') == 'network' and _external(en.get('url', '')): continue  # offline sandbox
                errors.append(f"{en.get('source')}: {en.get('text', '')[:300]} {en.get('url', '')[:120]}")
        info.update(loaded=loaded, console_errors=errors)
        return info

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 12000) -> Path:
        params = {'format': 'png'}
        if full_page:
            m = self.send('Page.getLayoutMetrics', session=True)
            size = m.get('cssContentSize') or m.get('contentSize')
            params.update(captureBeyondViewport=True,
                          clip={'x': 0, 'y': 0, 'width': size['width'], 'height': min(size['height'], max_height), 'scale': 1})
        data = self.send('Page.captureScreenshot', session=True, **params)['data']
        path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        with contextlib.suppress(Exception): self.send('Browser.close')
        with contextlib.suppress(Exception): self.ws.close()
        if self.proc.poll() is None:
            with contextlib.suppress(Exception): self.proc.wait(5)
        if self.proc.poll() is None: self.proc.kill(); self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self): return self
    def __exit__(self, *a): self.close()


def _external(url: str) -> bool:
    "A URL on another host (a Colab badge, the paper): this machine is offline, so failing to fetch it is not the page's fault."
    return url.startswith(('http://', 'https://')) and not url.split('/')[2].split(':')[0] in ('localhost', '127.0.0.1')


def browser_problems(page: Page, info: dict) -> list[str]:
    "Problems Chromium saw on a page: load failure, console errors, images that do not decode, tracebacks."
    probs, n = [], page.rel
    if not info.get('loaded'): probs.append(f'{n}: page did not finish loading')
    probs += [f'{n}: {e}' for e in info.get('console_errors', [])]
    imgs = info.get('images', [])
    for im in imgs:
        if _external(im.get('src', '')): continue   # remote badges cannot load offline; stored plots are data URIs
        if not im.get('decoded') or not im.get('w') or not im.get('h'):
            probs.append(f"{n}: image does not render (src {im.get('src')!r}, {im.get('w')}x{im.get('h')})")
    if len([im for im in imgs if not _external(im.get('src', ''))]) < page.n_images:
        probs.append(f'{n}: page shows {len(imgs)} images, the notebook stores {page.n_images}')
    if info.get('tracebacks'): probs.append(f"{n}: {info['tracebacks']} output(s) show a traceback")
    if page.title and page.title not in info.get('h1', ''): probs.append(f"{n}: title {page.title!r} not shown as heading")
    return probs + math_browser_problems(page, info) + cut_off_problems(page, info)


def math_browser_problems(page: Page, info: dict) -> list[str]:
    "TeX errors and `$` left in the visible text after MathJax typeset the page (nothing when the page has no MathJax)."
    m, n = info.get('math'), page.rel
    if m is None: return []
    if not m.get('loaded'): return [f'{n}: MathJax did not load: equations show as raw TeX']
    return ([f'{n}: TeX error in an equation: {e!r}' for e in m.get('errors', [])] +
            [f'{n}: raw `$` left in the page text after MathJax ran: {t!r}' for t in m.get('raw', [])])


def cut_off_problems(page: Page, info: dict) -> list[str]:
    "Content wider than the viewport or running past its right edge (Chromium at the viewport width, 1280 px)."
    vw = info.get('viewport', 0)
    return [f"{page.rel}: content cut off at the right edge ({c['width']} px > viewport {vw} px): <{c['tag']}> in rendered "
            f"cell {c['cell']}: {c['text']!r}" for c in info.get('cut_off', [])]

# ---------------------------------------------------------------------------------------------------------------
# Whole site
# ---------------------------------------------------------------------------------------------------------------

def run_dir(root: Path = CHECK_DIR, keep: int = 3) -> Path:
    """A fresh run folder `root/run-<time>-<pid>` for a checked site and its screenshots.

    `root` gets a `.gitignore` of `*`, so nothing in it is committed. One folder per run, so test runs at the same
    time never overwrite each other's site; runs beyond the newest `keep` are removed once 10 minutes old."""
    root = Path(root); root.mkdir(parents=True, exist_ok=True)
    (root/'.gitignore').write_text('*\n')
    runs = sorted(root.glob('run-*'), key=lambda p: p.stat().st_mtime)
    for old in runs[:max(0, len(runs) - keep + 1)]:
        if time.time() - old.stat().st_mtime > 600: shutil.rmtree(old, ignore_errors=True)  # never a run in progress
    out = root/f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    out.mkdir()
    return out


def build_site(out: Path, nbs: Path = NBS, notebooks=None) -> tuple[Path, list[Page]]:
    "Process every notebook (or `notebooks`) into `out/site`; returns the site folder and the pages."
    out = Path(out); site = out/'site'
    shutil.rmtree(site, ignore_errors=True); site.mkdir(parents=True)
    sb = Path(nbs)/'sidebar.yml'
    entries = sidebar_entries(sb) if sb.exists() else [(section_of(r, nbs), r.as_posix()) for r in list_notebooks(nbs)]
    exporter = _exporter(out)
    pages = [build_page(rel, site, entries, nbs, exporter) for rel in (notebooks or list_notebooks(nbs))]
    url = site_url()
    for p in pages: p.problems += link_problems(p, site, url, nbs)
    return site, pages


def page_to_dict(p: Page) -> dict:
    d = dict(p.__dict__); d['html'] = str(p.html) if p.html else None
    return d


def page_from_dict(d: dict) -> Page:
    return Page(**{**d, 'html': Path(d['html']) if d.get('html') else None})


def build_site_subprocess(out: Path, timeout: float = 600) -> list[Page]:
    "`build_site` in a fresh Python process (notebook import cells run there, not in the caller's process)."
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), '--build-json', str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, env={**os.environ, 'MPLBACKEND': 'Agg'})
    if r.returncode or not (Path(out)/'pages.json').exists():
        raise RuntimeError(f'docs build failed (exit {r.returncode}):\n{r.stderr[-3000:]}')
    return [page_from_dict(d) for d in json.loads((Path(out)/'pages.json').read_text())]


def check_in_browser(pages: list[Page], shots: Path | None = None, shot_pages=('index', 'core')) -> dict[str, list[str]]:
    "Open every page in one Chromium session; returns problems per page and saves screenshots of `shot_pages`."
    res = {}
    with Chromium() as br:
        for p in pages:
            if p.html is None: continue
            info = br.open(p.html.resolve().as_uri())
            res[p.rel] = browser_problems(p, info)
            stem = Path(page_name(p.rel)).stem
            if shots is not None and stem in shot_pages: br.screenshot(Path(shots)/f'{stem}.png')
    return res


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--write-sidebar', action='store_true', help='regenerate nbs/sidebar.yml and exit')
    ap.add_argument('--write-footers', nargs='*', metavar='NB', help='write the Previous/Next footer of NB... '
                    '(names or globs relative to nbs/, e.g. "1*.ipynb"; none: every page) and exit')
    ap.add_argument('--build-json', metavar='RUN_DIR', help='only build the site into RUN_DIR/site and write '
                    'RUN_DIR/pages.json (used by tests/test_docs.py to keep notebook code out of the pytest process)')
    ap.add_argument('--out', default=str(CHECK_DIR), help='parent of the run folder (site/ and screenshots/ go there)')
    a = ap.parse_args(argv)
    if a.write_sidebar: print(f'wrote {write_sidebar()}'); return 0
    if a.write_footers is not None:
        changed = write_footers(a.write_footers)
        print(f"footers written: {', '.join(changed) if changed else 'none (all in sync)'}"); return 0
    if a.build_json:
        out = Path(a.build_json); out.mkdir(parents=True, exist_ok=True)
        site, pages = build_site(out)
        (out/'pages.json').write_text(json.dumps([page_to_dict(p) for p in pages], indent=1))
        return 0
    out = run_dir(a.out)
    t0 = time.time()
    site, pages = build_site(out)
    print(f'built {len(pages)} pages in {time.time()-t0:.1f}s -> {site}')
    probs = [q for p in pages for q in p.problems]
    for w in (w for p in pages for w in p.warnings): print('warning:', w)
    if (why := browser_unavailable()): print(f'browser checks skipped: {why}')
    else:
        t1 = time.time()
        res = check_in_browser(pages, out/'screenshots', shot_pages={Path(page_name(p.rel)).stem for p in pages})
        probs += [q for v in res.values() for q in v]
        print(f'checked {len(res)} pages in Chromium in {time.time()-t1:.1f}s; screenshots in {out/"screenshots"}')
    print('\n'.join(probs) if probs else 'no problems')
    return 1 if probs else 0


if __name__ == '__main__': sys.exit(main())
