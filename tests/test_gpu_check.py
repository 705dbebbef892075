"bench/gpu_check.py must not rot: `--device cpu --quick` runs every section's code path and reports in a fixed shape."
import os, re, subprocess, sys

SECTIONS = ('env', 'simsiam', 'stages23', 'flexmatch', 'throughput', 'projection')   # resume and DDP: tests/test_gpu.py


def test_gpu_check_quick_on_cpu(root):
    env = {**os.environ, 'CI': '1', 'PYTHONPATH': str(root)}
    p = subprocess.run([sys.executable, str(root / 'bench' / 'gpu_check.py'), '--device', 'cpu', '--quick', '--no-save'],
                       cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (p.stdout[-3000:], p.stderr[-3000:])
    lines = p.stdout.strip().splitlines()
    status = {m[1]: m[2] for l in lines if (m := re.match(r'SECTION (\w+): (OK|FAIL|SKIPPED)', l))}
    assert list(status) == list(SECTIONS), status
    assert all(status[s] == 'OK' for s in SECTIONS), status
    line = {s: next(l for l in lines if l.startswith(f'SECTION {s}:')) for s in SECTIONS}
    assert '| amp True | channels_last True |' in line['simsiam'] and '| ema 0.999 |' in line['flexmatch']
    assert '| peak_gib n/a |' in line['simsiam'] and 'input_bound' in line['throughput']
    assert re.search(r'\| as3l_h [\d.]+ \|.*\| paper_as3l_h 21.70 \| paper_flexmatch_h 98.82 \|', line['projection'])
    assert any('tests/test_gpu.py' in l for l in lines)   # where the resume and DDP checks went
    assert lines[-1].startswith('HEADLINE gpu_check: 6/6 sections OK on cpu (quick)') and lines[-1].endswith(' MET'), lines[-1]
