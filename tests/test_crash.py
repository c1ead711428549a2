"""kill -9 under write load (tools/crash.py, a short run): nothing that was
acknowledged is lost, no queued mail is lost, and the file stays sound.
`python tools/crash.py --kills 12` runs the long version."""
import sys

from conftest import ROOT


def test_kill_9_under_write_load_loses_no_acknowledged_write_or_queued_mail():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import crash
    finally:
        sys.path.remove(str(ROOT / "tools"))
    figures = crash.run(kills=3, seconds=1.0, writers=4)
    assert figures["acknowledged"] > 50, figures            # the load was real
    assert figures["lost"] == 0, figures
    # Each stored user became active: one license and its mail, none lost.
    assert figures["licenses"] == figures["mails queued"] == figures["stored"], figures
    assert figures["integrity_check"] == "ok"
