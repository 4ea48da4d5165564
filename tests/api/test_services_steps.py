"""Per-step deadlines: each workflow state's share of the procedure's working days gives
the step entered its own due moment (working-day calendar, office hours, pauses), shown
on the dossier and its timeline, filtered and sorted in the inbox, flagged by the job."""
import datetime
import time

import pytest

from conftest import assert_error, make_cccd
from test_services_dossiers import CATALOG, act, official, submit

VN = datetime.timezone(datetime.timedelta(hours=7))
# 1.001776 (social assistance): 20 working days, ward_standard: received 0.1, processing
# 0.7, approved 0.2 -> 2, 14 and 4 working days. 1.004873: 3 days -> 0.1 = 162 minutes.
ALLOWANCE = {"beneficiary_name": "Nguyễn Văn Già", "beneficiary_cccd": "001045012345", "category": "Người cao tuổi",
             "applicant_name": "Nguyễn Văn Con", "applicant_cccd": "001190012345", "applicant_phone": "0912345678"}
MARITAL = {"purpose": "Kết hôn", "marital_status": "Chưa kết hôn", "applicant_name": "Vũ Thị E",
           "applicant_cccd": "001190012345"}


@pytest.fixture(scope="module")
def svc(server):
    server.cli("procedures", "import", CATALOG, check=True)
    return server


def vn(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(VN)


def calendar_due(svc, at_iso, days):
    """The calendar's own due date for `days` working days from the instant (Vietnam time)."""
    start = vn(at_iso).strftime("%Y-%m-%dT%H:%M")
    r = svc.client().get("/api/v1/calendar/due", params={"start": start, "days": days})
    assert r.status_code == 200, r.text
    return vn(r.json()["due"])


def counter(officer, unit, procedure="1.001776", form=None):
    r = submit(officer, procedure=procedure, unit=unit, form=dict(ALLOWANCE) if form is None else form,
               applicant={"cccd": make_cccd(), "name": "Nguyễn Văn Con"})
    assert r.status_code == 201, r.text
    return r.json()


def test_step_due_from_share_and_timeline(svc):
    unit = "00103"
    officer = official(svc, unit, "officer", "specialist", "leader")
    d = counter(officer, unit)
    code = d["code"]
    assert d["step"] is None and d["timeline"][0]["step_due_at"] is None   # "new" has no share
    r = act(officer, code, "receive").json()
    ev = r["timeline"][-1]
    assert r["step"]["state"] == "received" and not r["step"]["overdue"]
    assert vn(r["step"]["due_at"]) == calendar_due(svc, ev["at"], 2) == vn(ev["step_due_at"])
    assert vn(r["step"]["due_at"]) <= vn(r["due_at"])
    r = act(officer, code, "assign").json()
    ev = r["timeline"][-1]
    assert r["step"]["state"] == "processing"
    assert vn(r["step"]["due_at"]) == calendar_due(svc, ev["at"], 14)
    # the receiving step was left in time; the running one has no verdict yet
    assert [e["step_late"] for e in r["timeline"]] == [None, False, None]
    # the pause freezes the step; the same step resumes moved by the working days paused
    before = vn(r["step"]["due_at"])
    p = act(officer, code, "request_supplement", "Thiếu giấy xác nhận").json()
    assert p["step"] is None and p["clock_paused"] and p["timeline"][-1]["step_due_at"] is None
    svc.sql(f"UPDATE dossiers SET paused_at = paused_at - 14 * 86400000 WHERE code = '{code}'")
    r = act(officer, code, "supply").json()
    assert r["step"]["state"] == "processing"
    after = vn(r["step"]["due_at"])
    assert after >= before + datetime.timedelta(days=3) and after <= vn(r["due_at"])   # >= 3 working days paused
    assert (after.hour, after.minute) == (before.hour, before.minute) == (17, 0)
    assert vn(r["timeline"][-1]["step_due_at"]) == after
    # a step left after its due moment shows as late in the timeline
    svc.sql(f"UPDATE dossiers SET step_due_at = 1000 WHERE code = '{code}'")
    svc.sql(f"UPDATE dossier_events SET step_due_at = 1000 WHERE action = 'supply' AND dossier_id = "
            f"(SELECT id FROM dossiers WHERE code = '{code}')")
    got = officer.get(f"/api/v1/dossiers/{code}").json()
    assert got["step"]["overdue"]
    r = act(officer, code, "approve").json()
    assert r["status"] == 9 and r["step"]["state"] == "approved" and not r["step"]["overdue"]
    assert r["timeline"][-2]["action"] == "supply" and r["timeline"][-2]["step_late"] is True
    r = act(officer, code, "return_result").json()
    assert r["status"] == 10 and r["step"] is None and r["timeline"][-1]["step_due_at"] is None
    # the public lookup shows the step too (no personal data in it)
    pub = svc.client().get(f"/api/v1/lookup/dossiers/{code}", params={"cccd4": got["applicant"]["cccd"][-4:]})
    assert pub.status_code == 200 and "step_due_at" in pub.json()["timeline"][1]


def test_fractional_share_counts_office_minutes(svc):
    unit = "00118"
    officer = official(svc, unit, "officer")
    d = counter(officer, unit, procedure="1.004873", form=dict(MARITAL))
    r = act(officer, d["code"], "receive").json()
    at = r["timeline"][-1]["at"]
    # 0.1 x 3 days x 540 office minutes = 162 minutes after the start day's closing:
    # 10:42 on the next working day
    next_day = calendar_due(svc, at, 1)
    assert vn(r["step"]["due_at"]) == next_day.replace(hour=10, minute=42)
    # the step never ends after the dossier's own deadline
    assert vn(r["step"]["due_at"]) <= vn(r["due_at"])


def test_inbox_filters_and_sorts_by_step(svc):
    unit = "00127"
    officer = official(svc, unit, "officer")
    codes = [counter(officer, unit)["code"] for _ in range(3)]
    for c in codes:
        assert act(officer, c, "receive").status_code == 200
    svc.sql(f"UPDATE dossiers SET step_due_at = 2000 WHERE code = '{codes[1]}'")
    svc.sql(f"UPDATE dossiers SET step_due_at = 1000 WHERE code = '{codes[2]}'")
    inbox = officer.get("/api/v1/dossiers", params={"unit": unit, "step_overdue": "true"}).json()
    assert inbox["total"] == 2 and {x["code"] for x in inbox["items"]} == {codes[1], codes[2]}
    assert all(x["step"]["overdue"] for x in inbox["items"])
    by_step = officer.get("/api/v1/dossiers", params={"unit": unit, "sort": "step"}).json()["items"]
    assert [x["code"] for x in by_step] == [codes[2], codes[1], codes[0]]
    assert not by_step[2]["step"]["overdue"]
    # the default order is by the dossier's own deadline
    default = officer.get("/api/v1/dossiers", params={"unit": unit}).json()["items"]
    assert [x["code"] for x in default] == codes
    assert officer.get("/api/v1/dossiers", params={"unit": unit, "step_overdue": "false"}).json()["total"] == 3
    # a paused dossier's step is not overdue (its clock stands still)
    assert act(officer, codes[2], "request_supplement", "Thiếu ảnh").status_code == 200
    inbox = officer.get("/api/v1/dossiers", params={"unit": unit, "step_overdue": "1"}).json()
    assert [x["code"] for x in inbox["items"]] == [codes[1]]
    # the date filter works with real instants on both backends
    far = officer.get("/api/v1/dossiers", params={"unit": unit, "due_before": "2099-01-01"}).json()
    assert far["total"] == 3
    assert officer.get("/api/v1/dossiers", params={"unit": unit, "due_before": "2000-01-01"}).json()["total"] == 0
    assert assert_error(officer.get("/api/v1/dossiers", params={"unit": unit, "step_overdue": "maybe"}),
                        422)["field"] == "step_overdue"
    assert assert_error(officer.get("/api/v1/dossiers", params={"unit": unit, "sort": "name"}), 422)["field"] == "sort"


def test_late_job_flags_steps_running_late(svc):
    unit = "00136"
    officer = official(svc, unit, "officer")
    late, fine = counter(officer, unit)["code"], counter(officer, unit)["code"]
    for c in (late, fine):
        assert act(officer, c, "receive").status_code == 200
    svc.sql(f"UPDATE dossiers SET step_due_at = 1000 WHERE code = '{late}'")
    url2, proc = svc.start_node()    # the job runs once at a node's start
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not officer.get(f"/api/v1/dossiers/{late}").json()["step"]["late_warning"]:
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    got = officer.get(f"/api/v1/dossiers/{late}").json()
    assert got["step"]["late_warning"] and not got["late_warning"]     # the dossier itself has 20 days
    assert not officer.get(f"/api/v1/dossiers/{fine}").json()["step"]["late_warning"]
    # the next step starts afresh
    r = act(officer, late, "assign").json()
    assert r["step"]["state"] == "processing" and not r["step"]["late_warning"]
