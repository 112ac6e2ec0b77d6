"""`ovenai campaigns ...` against the test database."""

from __future__ import annotations

from campaigns.conftest import seed_cast
from cli.conftest import (  # noqa: F401  (the CLI's simulator)
    SIM,
    Run,
    ovenai,  # noqa: F401  (a fixture of these tests)
    sim_config,
)
from ovenai.settings import Settings
from support.simulator import simulator  # noqa: F401  (a fixture of these tests)


def test_preview_start_pause_resume_report_cancel_and_list(
    ovenai: Run,  # noqa: F811
    clean_db: Settings,
) -> None:
    cast = seed_cast(clean_db, SIM.business_account_id)

    preview = ovenai("campaigns", "preview", cast.property_id)
    assert preview.exit_code == 0, preview.output
    assert "to 3 leads; 2 excluded; 5 do not match" in preview.output
    assert f"excluded {cast.excluded['opted_out']} he  opted_out" in preview.output

    started = ovenai("campaigns", "start", cast.property_id)
    assert started.exit_code == 0, started.output
    campaign_id = started.output.split()[0]
    assert "running" in started.output
    assert "paused" in ovenai("campaigns", "pause", campaign_id).output
    refused = ovenai("campaigns", "pause", campaign_id)
    assert refused.exit_code != 0
    assert "cannot be paused" in refused.output
    assert "running" in ovenai("campaigns", "resume", campaign_id).output

    report = ovenai("campaigns", "report", campaign_id)
    assert report.exit_code == 0, report.output
    assert (
        "recipients 5 = excluded 2 + cancelled 0 + queued 3 + sent 0 + delivered 0 + read 0 "
        "+ failed 0; replied 0"
    ) in report.output
    assert "the lead opted out of marketing" in report.output

    assert "cancelled" in ovenai("campaigns", "cancel", campaign_id).output
    assert "cancelled 3 + queued 0" in ovenai("campaigns", "report", campaign_id).output
    assert campaign_id in ovenai("campaigns", "list").output
