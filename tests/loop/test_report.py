"""launch.loop.report: an html page with one PNG per per-round series."""

from __future__ import annotations

from launch.loop.ledger import load_ledger, record_round, record_stop
from launch.loop.report import write_report
from tests.loop.test_ledger import record


def test_report_plots_every_series_and_names_the_stop(tmp_path):
    for r, bpb in enumerate([1.6, 1.5, 1.55]):
        record_round(tmp_path, record(r, bpb=bpb, distinct_2=0.6 - 0.1 * r))
    record_stop(tmp_path, 2, "real_val_bpb has not improved")
    path = write_report(tmp_path, load_ledger(tmp_path))
    page = path.read_text()
    pngs = sorted(p.name for p in (tmp_path / "loop_report").glob("*.png"))
    assert pngs == ["discriminator_accuracy.png", "distinct_2.png", "memorization.png", "real_val_bpb.png",
                    "synthetic_share.png", "tail_mass.png"]
    assert all((tmp_path / "loop_report" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert all(f"loop_report/{p}" in page for p in pngs)
    assert "stopped after round 2: real_val_bpb has not improved" in page and "<td>1.5500</td>" in page


def test_round_zero_only_skips_the_discriminator_plot(tmp_path):
    record_round(tmp_path, record(0))
    page = write_report(tmp_path, load_ledger(tmp_path)).read_text()
    assert "discriminator_accuracy.png" not in page and "real_val_bpb.png" in page
