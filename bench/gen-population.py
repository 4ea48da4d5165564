#!/usr/bin/python3
"""Generates N valid rows for `cityos population import` (Debian python3, no PyPI).

Usage: bench/gen-population.py N [--bad K] [--seed S] > people.csv

Addresses use the shipped Hanoi units (data/units/hanoi-units-2025.csv wards for the
current address, hanoi-units-2024.csv wards for the permanent one). CCCDs are unique
(digits 7-12 drawn without repetition per prefix) and consistent with birth date and
sex. --bad K appends K rows that must be rejected (wrong sex digit, unknown unit, bad
date, duplicate), for the import's report.
"""
import csv
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
            "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Xuân"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hải", "Hằng", "Hiếu", "Hoa", "Huy", "Lan", "Linh", "Long",
         "Mai", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến"]


def wards(path):
    with open(path, encoding="utf-8") as f:
        return [r["code"] for r in csv.DictReader(f) if r["level"] == "ward"]


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    n = int(args[0])
    bad = int(args[args.index("--bad") + 1]) if "--bad" in args else 0
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    rnd = random.Random(seed)
    w2024 = wards(os.path.join(ROOT, "data/units/hanoi-units-2024.csv"))
    w2025 = wards(os.path.join(ROOT, "data/units/hanoi-units-2025.csv"))
    out = sys.stdout
    out.write("cccd,full_name,birth_date,sex,permanent_era,permanent_unit,current_era,current_unit,household_id\n")
    # Unique CCCDs: walk a random permutation of the 10^6 suffixes with a stride coprime
    # to 10^6, per (province, century/sex, year) prefix.
    counters = {}
    provinces = ["001", "001", "001", "031", "034", "036", "038", "040", "079"]
    first = None
    lines = []
    for i in range(n):
        year = rnd.randint(1930, 2024)
        female = rnd.random() < 0.5
        digit4 = (0 if year < 2000 else 2) + (1 if female else 0)
        prefix = f"{rnd.choice(provinces)}{digit4}{year % 100:02d}"
        k = counters.get(prefix, 0)
        counters[prefix] = k + 1
        if k >= 10**6:
            continue
        suffix = (k * 7919 + int(prefix) % 1000) % 10**6
        cccd = f"{prefix}{suffix:06d}"
        month = rnd.randint(1, 12)
        day = rnd.randint(1, 28)
        name = f"{rnd.choice(SURNAMES)} {'Thị' if female else rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"
        perm = rnd.choice(w2024)
        if rnd.random() < 0.7:
            cur_era, cur = "2025", rnd.choice(w2025)
        else:
            cur_era, cur = "", ""
        hh = f"HK{i // 4:09d}"
        row = f"{cccd},{name},{year:04d}-{month:02d}-{day:02d},{'female' if female else 'male'},2024,{perm},{cur_era},{cur},{hh}\n"
        if first is None:
            first = row
        lines.append(row)
        if len(lines) >= 10000:
            out.write("".join(lines))
            lines = []
    out.write("".join(lines))
    for j in range(bad):
        kind = j % 4
        if kind == 0:   # sex digit says male, row says female
            out.write(f"001090{j:06d},Lê Văn Sai,1990-01-01,female,2024,{w2024[0]},,,\n")
        elif kind == 1:
            out.write(f"001190{j:06d},Lê Thị Sai,1990-01-01,female,2024,99999,,,\n")
        elif kind == 2:
            out.write(f"001190{j:06d},Lê Thị Sai,1990-02-30,female,2024,{w2024[0]},,,\n")
        elif first:
            out.write(first)
    return 0


if __name__ == "__main__":
    sys.exit(main())
