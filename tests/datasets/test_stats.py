
from tests.factories import tiny_yolo_dataset
from xscreen.datasets.stats import SMALL, compute_stats, stats_markdown


def test_stats_count_every_box_and_image(tmp_path):
    tiny_yolo_dataset(tmp_path, names=["firearm", "knife"], n_train=8, n_val=4, size=64)
    stats = compute_stats(tmp_path)
    labels = {split: [line.split() for p in (tmp_path / "labels" / split).glob("*.txt") for line in p.read_text().splitlines()] for split in ("train", "val")}
    for split in ("train", "val"):
        st = stats.splits[split]
        assert st.images == len(list((tmp_path / "images" / split).iterdir()))
        assert sum(st.boxes.values()) == len(labels[split])
        assert st.background_images == 0
    assert stats.image_width.min == stats.image_width.max == 64
    n_boxes = sum(len(v) for v in labels.values())
    assert sum(stats.box_size_bands.values()) == n_boxes
    # The factory draws boxes of 10..31 px on a 64 px image: all "small" by COCO's bands.
    assert stats.box_size_bands["small"] == n_boxes and stats.box_width_px.max ** 2 < SMALL * 1.01
    table = "\n".join(stats_markdown(stats))
    assert "| firearm |" in table and "| **images** | 8 | 4 |" in table


def test_background_images_counted(tmp_path):
    tiny_yolo_dataset(tmp_path, names=["x"], n_train=3, n_val=1)
    (tmp_path / "labels" / "train" / "0000.txt").write_text("")
    (tmp_path / "labels" / "train" / "0001.txt").unlink()
    assert compute_stats(tmp_path).splits["train"].background_images == 2
