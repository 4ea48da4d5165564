"""Shared helpers for the reports (Open311) API tests."""
import struct

from conftest import make_cccd, unique

HOAN_KIEM_LAKE = (21.0287, 105.8524)
O311 = "/open311/v2"


def jpeg_with_gps():
    """A small JPEG-structured file with an EXIF APP1 segment holding GPS data, an XMP
    APP1, a comment, and a scan. Enough for the stripper (not meant to be decoded)."""
    def seg(marker, payload):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPSLatitude=21.0287;GPSLongitude=105.8524"
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>exif:GPSLatitude 21,1.72N</x:xmpmeta>"
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + bytes(range(64))
    sof = b"\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    scan = b"\x12\x34\xff\x00\x56\xff\xd0\x78"
    return (b"\xff\xd8" + seg(0xE0, jfif) + seg(0xE1, exif) + seg(0xE1, xmp) + seg(0xFE, b"taken by Nguyen Van A")
            + seg(0xDB, dqt) + seg(0xC0, sof) + seg(0xDA, sos) + scan + b"\xff\xd9")


def api_key(server):
    r = server.admin.post("/api/v1/clients", json={"username": unique("app"), "name": "Hanoi-S test app", "roles": []})
    assert r.status_code == 201, r.text
    return r.json()["api_key"]


def citizen(server):
    cccd = make_cccd(female=True)
    pw = "Cong-dan-2026!x"
    r = server.admin.post("/api/v1/users", json={"kind": "citizen", "cccd": cccd, "full_name": "Nguyễn Thị Dân",
                                                 "birth_date": "1990-05-01", "sex": "female", "password": pw})
    assert r.status_code == 201, r.text
    return server.login(cccd, pw), r.json()["id"]


def officer(server, unit="00070", role="report_officer"):
    name = unique("canbo")
    pw = "Can-bo-2026!xyz"
    r = server.admin.post("/api/v1/users", json={"kind": "official", "username": name, "full_name": "Trần Văn Cán Bộ",
                                                 "password": pw, "unit": unit, "roles": [{"role": role, "unit": unit}]})
    assert r.status_code == 201, r.text
    return server.login(name, pw)


def submit(client, key=None, **fields):
    data = {"service_code": "road_damage", "lat": str(HOAN_KIEM_LAKE[0]), "long": str(HOAN_KIEM_LAKE[1]),
            "description": "Ổ gà lớn trước số 1 Đinh Tiên Hoàng", "attribute[severity]": "major"}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    if key:
        data["api_key"] = key
    return client.req("POST", O311 + "/requests.json", data=data)


def o311_error(r, status):
    assert r.status_code == status, f"{r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body, list) and body, body
    assert body[0]["code"] == status and isinstance(body[0]["description"], str) and body[0]["description"], body
    return body[0]["description"]
