"""`LabelGrid` (issue #30): labelling in a notebook writes the same `path,label` CSV the CLI reads; tested without a browser.

The grid is built, its boxes set programmatically (as clicks would), saved, and read back with `read_label_sheet`.
"""
import io

import numpy as np
import pytest
from PIL import Image

from as3l.sheets import LabelGrid, read_label_sheet, write_label_sheet

pytest.importorskip('ipywidgets')


@pytest.fixture
def folder(tmp_path):
    "A folder `photos` of 5 small images (one 8x8 grey, the others colour), and an empty label sheet for them."
    photos = tmp_path / 'photos'
    (photos / 'sub').mkdir(parents=True)
    Image.new('L', (8, 8), 90).save(photos / 'a.png')
    for name, size in [('b.png', (200, 100)), ('c.jpg', (40, 60)), ('sub/d.png', (96, 96))]:
        Image.new('RGB', size, (200, 30, 30)).save(photos / name)
    (photos / 'broken.png').write_bytes(b'not an image')
    paths = ['a.png', 'b.png', 'c.jpg', 'sub/d.png', 'broken.png']
    sheet = write_label_sheet(paths, np.arange(5), tmp_path / 'to_label.csv')
    return photos, sheet, paths


def test_shows_the_sheet_rows_as_thumbnails(folder):
    photos, sheet, paths = folder
    g = LabelGrid(sheet, photos, ['cat', 'dog'], size=64)
    assert g.paths == paths and g.labels == dict.fromkeys(paths, '') and g.n_labelled == 0
    sizes = {p: Image.open(io.BytesIO(g.thumbnail(p))).size for p in paths}
    assert all(g.thumbnail(p)[:8] == b'\x89PNG\r\n\x1a\n' for p in paths)
    assert sizes == {'a.png': (64, 64), 'b.png': (64, 32), 'c.jpg': (40, 60), 'sub/d.png': (64, 64), 'broken.png': (64, 64)}
    assert [b.options[0] for b in g.boxes.values()] == [('(unlabelled)', '')] * 5
    assert len(g.widget.children[0].children) == 5                   # one tile per image


def test_set_label_save_and_read_back(folder):
    photos, sheet, paths = folder
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    for p, lab in zip(paths, ['cat', 'dog', 'dog', 'cat', 'cat']): g.set_label(p, lab)
    assert g.save() == sheet
    assert sheet.read_text().splitlines() == ['path,label', 'a.png,cat', 'b.png,dog', 'c.jpg,dog', 'sub/d.png,cat', 'broken.png,cat']
    idx, y, names = read_label_sheet(sheet, paths, ['cat', 'dog'], root=photos)       # what `as3l train` reads
    assert idx.tolist() == [0, 1, 2, 3, 4] and y.tolist() == [0, 1, 1, 0, 0] and names == ['cat', 'dog']
    assert not [f for f in sheet.parent.iterdir() if f.name.endswith('.tmp')]         # atomic: no temporary file left


def test_unknown_class_or_image_is_one_line(folder):
    photos, sheet, _ = folder
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    with pytest.raises(ValueError) as e:
        g.set_label('a.png', 'cow')
    assert str(e.value) == "unknown class 'cow' for 'a.png'; choose one of cat, dog (or pass it in classes=)"
    with pytest.raises(ValueError, match="'z.png' is not in"):
        g.set_label('z.png', 'cat')
    g.set_label('a.png', 'cat'); g.set_label('a.png', None)            # cleared again
    assert g.labels['a.png'] == ''
    with pytest.raises(ValueError, match='distinct, non-empty names'):
        LabelGrid(sheet, photos, ['cat', 'cat'])


def test_save_button_partial_labels_and_resume(folder):
    photos, sheet, paths = folder
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    g.set_label('b.png', 'dog')
    g.save_button.click()
    assert sheet.read_text().splitlines()[2] == 'b.png,dog'
    assert g.status.value == f'saved 1 of 5 labels to {sheet}; 4 still empty'
    again = LabelGrid(sheet, photos, ['cat', 'dog'])                    # a new grid resumes where the sheet is
    assert again.labels == {**dict.fromkeys(paths, ''), 'b.png': 'dog'}
    again.set_label('b.png', '')                                       # clearing a loaded label is the user's choice
    again.save()
    assert sheet.read_text().splitlines()[2] == 'b.png,'


def test_save_keeps_extra_columns(folder):
    photos, sheet, _ = folder
    sheet.write_text('path,label,note\na.png,,blurry\nb.png,cat,\n')
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    g.set_label('a.png', 'dog')
    g.save()
    assert sheet.read_text().splitlines() == ['path,label,note', 'a.png,dog,blurry', 'b.png,cat,']


def test_save_never_drops_a_row_or_overwrites_a_label_written_since(folder):
    photos, sheet, _ = folder
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    g.set_label('a.png', 'cat')
    on_disk = sheet.read_text() + 'new.png,dog\n'                      # someone added a row meanwhile
    sheet.write_text(on_disk)
    g.save_button.click()                                              # in the browser: shown, not raised
    assert 'not saved (it would drop them)' in g.status.value and sheet.read_text() == on_disk
    with pytest.raises(ValueError, match="this grid does not show, e.g. 'new.png'"):
        g.save()
    on_disk = on_disk.replace('new.png,dog\n', '').replace('b.png,', 'b.png,cat')   # ... or labelled an image
    sheet.write_text(on_disk)
    with pytest.raises(ValueError) as e:
        g.save()
    assert "the label of 'b.png' (1 in all) changed on disk" in str(e.value) and '\n' not in str(e.value)
    assert sheet.read_text() == on_disk


def test_bad_construction_is_one_line(folder, tmp_path):
    photos, sheet, _ = folder
    with pytest.raises(FileNotFoundError, match='pass image_root= the folder'):
        LabelGrid(sheet, tmp_path, ['cat', 'dog'])
    with pytest.raises(FileNotFoundError, match='not found'):
        LabelGrid(tmp_path / 'none.csv', photos, ['cat'])
    sheet.write_text('path,label\na.png,owl\n')
    with pytest.raises(ValueError, match="labels 'a.png' as 'owl', not one of classes"):
        LabelGrid(sheet, photos, ['cat', 'dog'])
    sheet.write_text('file,class\na.png,cat\n')
    with pytest.raises(ValueError, match='needs columns `path,label`'):
        LabelGrid(sheet, photos, ['cat', 'dog'])
    sheet.write_text('path,label\na.png,\na.png,\n')
    with pytest.raises(ValueError, match='listed twice'):
        LabelGrid(sheet, photos, ['cat', 'dog'])


def test_audit_sheet_in_the_grid(folder, tmp_path):
    "An audit sheet from `start_audit` is labelled in the grid and scored: the format is the same."
    from as3l.audit import score_audit, start_audit
    photos, _, paths = folder
    preds = tmp_path / 'predictions.csv'
    preds.write_text('path,predicted,softmax\n' + ''.join(f'{p},{"cat" if i % 2 else "dog"},0.6\n' for i, p in enumerate(paths)))
    sheet = start_audit(preds, tmp_path / 'audit.csv', n=4, seed=0)
    g = LabelGrid(sheet, photos, ['cat', 'dog'])
    for p in g.paths: g.set_label(p, 'cat')
    g.save()
    res = score_audit(preds, sheet)
    assert res.n == 4 and res.correct == sum(paths.index(p) % 2 for p in g.paths)
