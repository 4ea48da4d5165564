"""Routing, the officers' queue, follow-up, notifications, reopening, moderation,
duplicates and statistics (the /api/v1/reports side of the reports module)."""
import base64

import pytest
import requests

from conftest import assert_error
from reports_helpers import O311, api_key, citizen, jpeg_with_gps, o311_error, officer, submit


@pytest.fixture(scope="module")
def world(server):
    key = api_key(server)
    reporter, reporter_id = citizen(server)
    hk = officer(server, "00070")           # Phường Hoàn Kiếm
    bd = officer(server, "00004")           # Phường Ba Đình
    r = submit(reporter, None, description="Ổ gà sâu, gọi anh Minh 0912345678 để biết thêm")
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    return {"key": key, "reporter": reporter, "reporter_id": reporter_id, "hk": hk, "bd": bd, "rid": rid}


def test_queue_permissions(world, anon):
    assert_error(anon.get("/api/v1/reports"), 401)
    assert_error(world["reporter"].get("/api/v1/reports"), 403)
    hk = world["hk"].get("/api/v1/reports?status=active").json()["items"]
    assert world["rid"] in [i["service_request_id"] for i in hk]
    item = next(i for i in hk if i["service_request_id"] == world["rid"])
    assert item["unit"]["code"] == "00070" and item["overdue"] is False
    bd = world["bd"].get("/api/v1/reports").json()["items"]
    assert world["rid"] not in [i["service_request_id"] for i in bd]
    assert_error(world["hk"].get("/api/v1/reports?status=weird"), 422, "validation_failed")


def test_officer_detail_has_contact_and_is_audited(world, server):
    rid = world["rid"]
    d = world["hk"].get(f"/api/v1/reports/{rid}").json()
    assert d["reporter"]["account_id"] == world["reporter_id"] and d["can_handle"] is True
    assert d["reporter"]["name"] == "Nguyễn Thị Dân"   # the signed-in citizen's account name
    assert d["events"][0]["kind"] == "created"
    rows = server.sql(f"SELECT count(*) FROM audit_log WHERE action = 'report.read' AND record_id = '{rid}'")
    assert int(rows[0][0]) >= 1
    assert_error(world["bd"].get(f"/api/v1/reports/{rid}"), 404)
    mine = world["reporter"].get(f"/api/v1/reports/{rid}").json()
    assert mine["mine"] is True and "reporter" not in mine


def test_out_of_scope_officer_cannot_act(world):
    r = world["bd"].post(f"/api/v1/reports/{world['rid']}/events", json={"status": "acknowledged"})
    assert_error(r, 403, "forbidden")


def test_route_resolve_notify_reopen(world, anon, server):
    rid, hk, rep = world["rid"], world["hk"], world["reporter"]
    assert hk.post(f"/api/v1/reports/{rid}/events", json={"status": "acknowledged"}).status_code == 200
    assert hk.post(f"/api/v1/reports/{rid}/events", json={"status": "in_progress", "note": "Đội duy tu đang đến"}).json()["status"] == "in_progress"
    fix = base64.b64encode(jpeg_with_gps()).decode()
    r = hk.post(f"/api/v1/reports/{rid}/events", json={"status": "resolved", "note": "Đã vá ổ gà", "photo_base64": fix})
    assert r.status_code == 200, r.text
    pub = anon.get(f"{O311}/requests/{rid}.json").json()[0]
    assert pub["status"] == "closed" and pub["detailed_status"] == "resolved" and pub["status_notes"] == "Đã vá ổ gà"
    notes = rep.get("/api/v1/reports/notifications").json()["items"]
    mine = [n for n in notes if n["report_id"] == rid]
    kinds = [n["kind"] for n in mine]
    assert kinds.count("status") == 3 and "received" in kinds
    assert any("Đã xử lý xong" in n["message"] and "Đã vá ổ gà" in n["message"] for n in mine)
    assert all(n["sent_at"] is None for n in mine)   # waiting in the outbox for a gateway
    detail = rep.get(f"/api/v1/reports/{rid}").json()
    fixes = [p for p in detail["photos"] if p["kind"] == "fix"]
    assert fixes and b"GPS" not in requests.get(server.url + fixes[0]["url"], timeout=30).content
    # Someone else cannot reopen it; the reporter can.
    other, _ = citizen(server)
    assert_error(other.post(f"/api/v1/reports/{rid}/reopen", json={}), 404)
    r = rep.post(f"/api/v1/reports/{rid}/reopen", json={"reason": "Ổ gà lại xuất hiện"})
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert_error(rep.post(f"/api/v1/reports/{rid}/reopen", json={}), 409, "conflict")
    assert any(n["kind"] == "reopen" for n in rep.get("/api/v1/reports/notifications").json()["items"])
    assert anon.get(f"{O311}/requests/{rid}.json").json()[0]["status"] == "open"


def test_reopen_window(world, server):
    rep, hk = world["reporter"], world["hk"]
    rid = submit(rep, None).json()[0]["service_request_id"]
    hk.post(f"/api/v1/reports/{rid}/events", json={"status": "resolved"})
    server.sql(f"UPDATE reports SET resolved_at = resolved_at - 15 * 86400000 WHERE id = {rid}")
    assert "window" in assert_error(rep.post(f"/api/v1/reports/{rid}/reopen", json={}), 409)["message"]


def test_status_validation_and_closed_is_final(world):
    hk = world["hk"]
    rid = submit(world["reporter"], None).json()[0]["service_request_id"]
    assert_error(hk.post(f"/api/v1/reports/{rid}/events", json={}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/events", json={"status": "open"}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/events", json={"status": "done"}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/events", json={"status": "in_progress", "photo_base64": "!!"}), 422)
    assert hk.post(f"/api/v1/reports/{rid}/events", json={"status": "closed"}).status_code == 200
    assert_error(hk.post(f"/api/v1/reports/{rid}/events", json={"status": "resolved"}), 409)
    assert_error(hk.post("/api/v1/reports/99999999/events", json={"status": "resolved"}), 404)


def test_reassign_with_reason(world, anon):
    hk, bd = world["hk"], world["bd"]
    rid = submit(world["reporter"], None).json()[0]["service_request_id"]
    assert_error(hk.post(f"/api/v1/reports/{rid}/assign", json={"unit_code": "00004"}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/assign", json={"unit_code": "99999", "reason": "x"}), 422)
    r = hk.post(f"/api/v1/reports/{rid}/assign", json={"unit_code": "00004", "reason": "Thuộc địa bàn Ba Đình"})
    assert r.status_code == 200, r.text
    assert anon.get(f"{O311}/requests/{rid}.json").json()[0]["agency_responsible"] == "Phường Ba Đình"
    assert rid in [i["service_request_id"] for i in bd.get("/api/v1/reports").json()["items"]]
    assert rid not in [i["service_request_id"] for i in hk.get("/api/v1/reports").json()["items"]]
    ev = world["reporter"].get(f"/api/v1/reports/{rid}").json()["events"]
    assert ev[-1]["kind"] == "reassign" and ev[-1]["reason"] == "Thuộc địa bàn Ba Đình"
    r = bd.post(f"/api/v1/reports/{rid}/assign", json={"department": "Công ty TNHH MTV Thoát nước Hà Nội", "reason": "Ngập"})
    assert r.status_code == 200
    assert anon.get(f"{O311}/requests/{rid}.json").json()[0]["agency_responsible"] == "Công ty TNHH MTV Thoát nước Hà Nội"


def test_hide_phrase_photo_report(world, anon, server):
    hk, rep = world["hk"], world["reporter"]
    r = rep.req("POST", O311 + "/requests.json", data={"service_code": "garbage", "lat": "21.0287", "long": "105.8524",
                                                       "attribute[waste_type]": "household",
                                                       "description": "Rác đổ trước nhà bà Lan số 12"},
                files={"media": ("a.jpg", jpeg_with_gps(), "image/jpeg")})
    rid = r.json()[0]["service_request_id"]
    pub = anon.get(f"{O311}/requests/{rid}.json").json()[0]
    photo_url = pub["media_url"]
    assert_error(hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "phrase", "phrase": "bà Lan"}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "phrase", "phrase": "ông Tư", "reason": "x"}), 422)
    assert_error(hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "secret", "reason": "x"}), 422)
    r = hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "phrase", "phrase": "bà Lan", "reason": "Tên người"})
    assert r.status_code == 200, r.text
    pub = anon.get(f"{O311}/requests/{rid}.json").json()[0]
    assert "bà Lan" not in pub["description"] and "[đã ẩn]" in pub["description"]
    photo_id = int(photo_url.rsplit("/", 1)[1])
    assert_error(hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "photo", "photo_id": 999999, "reason": "x"}), 404)
    assert hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "photo", "photo_id": photo_id, "reason": "Có biển số xe"}).status_code == 200
    assert requests.get(photo_url, timeout=30).status_code == 404
    assert hk.get(f"/api/v1/reports/photos/{photo_id}").status_code == 200
    assert anon.get(f"{O311}/requests/{rid}.json").json()[0]["media_url"] is None
    assert hk.post(f"/api/v1/reports/{rid}/hide", json={"target": "report", "reason": "Nội dung cá nhân"}).status_code == 200
    o311_error(anon.get(f"{O311}/requests/{rid}.json"), 404)
    mine = rep.get(f"/api/v1/reports/{rid}").json()
    assert mine["hidden_reason"] == "Nội dung cá nhân"
    assert [p["hidden_reason"] for p in mine["photos"]] == ["Có biển số xe"]
    msgs = [n["message"] for n in rep.get("/api/v1/reports/notifications").json()["items"] if n["report_id"] == rid]
    assert any("Có biển số xe" in m for m in msgs) and any("Tên người" in m for m in msgs)


def test_duplicate_suggestion_and_merge(world, anon):
    hk = world["hk"]
    first = submit(anon, world["key"], service_code="noise", lat="21.0300", long="105.8500",
                   **{"attribute[severity]": None, "attribute[source]": "karaoke"}).json()[0]["service_request_id"]
    near = anon.get("/api/v1/reports/nearby?lat=21.0302&long=105.8501&service_code=noise").json()
    assert first in [i["service_request_id"] for i in near["items"]] and near["radius_m"] == 50
    assert near["items"][0]["distance_m"] < 50
    assert not anon.get("/api/v1/reports/nearby?lat=21.0400&long=105.8501&service_code=noise").json()["items"]
    assert not anon.get("/api/v1/reports/nearby?lat=21.0302&long=105.8501&service_code=garbage").json()["items"]
    wide = anon.get("/api/v1/reports/nearby?lat=21.0400&long=105.8501&service_code=noise&radius=2000").json()
    assert first in [i["service_request_id"] for i in wide["items"]]
    assert_error(anon.get("/api/v1/reports/nearby?lat=x&long=105&service_code=noise"), 422)
    assert_error(anon.get("/api/v1/reports/nearby?lat=21&long=105&service_code=noise&radius=99999"), 422)
    second = submit(anon, world["key"], service_code="noise", lat="21.0302", long="105.8501",
                    **{"attribute[severity]": None, "attribute[source]": "karaoke"}).json()[0]["service_request_id"]
    assert_error(hk.post(f"/api/v1/reports/{second}/merge", json={"into": second}), 422)
    assert_error(hk.post(f"/api/v1/reports/{second}/merge", json={"into": 99999999}), 422)
    assert hk.post(f"/api/v1/reports/{second}/merge", json={"into": first, "reason": "Cùng quán karaoke"}).status_code == 200
    pub = anon.get(f"{O311}/requests/{second}.json").json()[0]
    assert pub["detailed_status"] == "duplicate" and pub["status"] == "closed" and pub["duplicate_of"] == first


def test_stats_per_unit(world, server, anon):
    assert_error(anon.get("/api/v1/reports/stats"), 401)
    assert_error(world["reporter"].get("/api/v1/reports/stats"), 403)
    hk = world["hk"]
    rid = submit(world["reporter"], None).json()[0]["service_request_id"]
    hk.post(f"/api/v1/reports/{rid}/events", json={"status": "resolved"})
    late = submit(world["reporter"], None).json()[0]["service_request_id"]
    server.sql(f"UPDATE reports SET due_at = created_at - 1000 WHERE id = {late}")
    hk.post(f"/api/v1/reports/{late}/events", json={"status": "resolved"})
    s = hk.get("/api/v1/reports/stats").json()
    units = {(i["unit"] or {}).get("code") for i in s["items"]}
    assert units == {"00070"}, units
    row = next(i for i in s["items"] if i["department"] is None)
    assert row["received"] >= 3 and row["resolved"] >= 2 and row["resolved_on_time"] < row["resolved"]
    assert row["median_hours_to_resolve"] is not None and row["median_hours_to_resolve"] >= 0
    everything = server.admin.get("/api/v1/reports/stats").json()
    assert len(everything["items"]) > 1 and everything["total"]["received"] >= s["total"]["received"]
    assert_error(hk.get("/api/v1/reports/stats?from=2020-01-01&to=2026-01-01"), 422)


def test_mine_lists_only_own(world, server):
    mine = world["reporter"].get("/api/v1/reports/mine").json()["items"]
    assert world["rid"] in [i["service_request_id"] for i in mine]
    other, _ = citizen(server)
    assert other.get("/api/v1/reports/mine").json()["items"] == []
