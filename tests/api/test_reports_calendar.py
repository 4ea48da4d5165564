"""Report due dates count working days by the deployment's calendar (the same one
dossier deadlines use): days off an administrator adds push the due date out."""
import datetime

from reports_helpers import api_key, submit

VN = datetime.timezone(datetime.timedelta(hours=7))


def due_of(server, key):
    r = submit(server.client(), key)
    assert r.status_code in (200, 201), r.text
    body = r.json()
    item = body[0] if isinstance(body, list) else body
    return datetime.datetime.fromisoformat(item["expected_datetime"].replace("Z", "+00:00")).astimezone(VN)


def test_days_off_push_the_due_date(fresh_server):
    server = fresh_server
    key = api_key(server)
    before = due_of(server, key)
    # Make the next 30 days (from tomorrow) days off, year by year.
    today = datetime.datetime.now(VN).date()
    days = [today + datetime.timedelta(days=i) for i in range(1, 31)]
    for year in sorted({d.year for d in days}):
        current = server.admin.get(f"/api/v1/calendar/{year}")
        assert current.status_code == 200, current.text
        off = [{"date": d.isoformat(), "name": "Nghỉ thử nghiệm", "source": "test"} for d in days if d.year == year]
        r = server.admin.req("PUT", f"/api/v1/calendar/{year}", json={"year": year, "off": off})
        assert r.status_code == 200, r.text
    after = due_of(server, key)
    assert after.date() > days[-1], (before, after)
    assert after > before
