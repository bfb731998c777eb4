"""Small public-shop-log fixtures, written in each publisher's exact file format.

Each writer makes a seeded log with a little structure (shoppers prefer a few
products of "their" group, so personal models have something to learn) and
the quirks of the real file: UCI Online Retail's cancellations, lines without
a CustomerID, postage lines, ``12/1/2010 8:26`` dates and Latin-1 text;
Retailrocket's millisecond timestamps; REES46's ``... UTC`` times, empty
category codes and brands; Taobao's headerless rows; Amazon's JSON lines with
nested lists, ``"$12.99"`` price strings and page junk in a price.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

N_USERS = 40
N_ITEMS = 24
N_GROUPS = 4
START = datetime(2010, 12, 1, 8, 0, tzinfo=UTC)


def _interactions(seed: int, n: int, days: int = 60) -> list[tuple[int, int, datetime]]:
    """(user, item, time) with each user drawing mostly from their own item group, sorted by time."""
    rng = np.random.default_rng(seed)
    out = []
    per_group = N_ITEMS // N_GROUPS
    for _ in range(n):
        user = int(rng.integers(N_USERS))
        group = user % N_GROUPS if rng.random() < 0.8 else int(rng.integers(N_GROUPS))
        item = group * per_group + int(rng.integers(per_group))
        when = START + timedelta(minutes=int(rng.integers(days * 24 * 60)))
        out.append((user, item, when))
    return sorted(out, key=lambda r: r[2])


def online_retail(path: Path, n: int = 400) -> Path:
    """UCI Online Retail as CSV (ISO-8859-1, as the widely used CSV export of the .xlsx is)."""
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    names = [f"WHITE HANGING HEART T-LIGHT HOLDER {i}" if i % 3 else f'"SET OF {i} BABUSHKA, NESTING BOXES"' for i in range(N_ITEMS)]
    names[5] = "CAF\xc9 GLASS JAR"  # Latin-1 text
    for k, (user, item, when) in enumerate(_interactions(1, n)):
        stamp = f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"
        code = f"{85100 + item}{'A' if item % 5 == 0 else ''}"
        customer = "" if k % 9 == 4 else f"{12346 + user}"
        lines.append(f"{536365 + k},{code},{names[item]},{1 + k % 6},{stamp},{1.25 + item * 0.5:.2f},{customer},United Kingdom")
        if k % 25 == 3:  # a cancellation of that line
            lines.append(f"C{536365 + k},{code},{names[item]},-{1 + k % 6},{stamp},{1.25 + item * 0.5:.2f},{customer},United Kingdom")
        if k % 30 == 7:  # postage on the same invoice
            lines.append(f"{536365 + k},POST,POSTAGE,1,{stamp},18.00,{customer},France")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def retailrocket(path: Path, n: int = 400) -> Path:
    kinds = ["view"] * 8 + ["addtocart", "transaction"]
    lines = ["timestamp,visitorid,event,itemid,transactionid"]
    for k, (user, item, when) in enumerate(_interactions(2, n)):
        kind = kinds[k % len(kinds)]
        tid = str(4000 + k) if kind == "transaction" else ""
        lines.append(f"{int(when.timestamp() * 1000) + k % 1000},{257597 + user},{kind},{355908 + item},{tid}")
    path.write_text("\n".join(lines) + "\n")
    return path


def rees46(path: Path, n: int = 400) -> Path:
    kinds = ["view"] * 7 + ["cart", "purchase", "remove_from_cart"]
    codes = ["electronics.smartphone", "appliances.kitchen.refrigerators", "", "apparel.shoes"]
    brands = ["samsung", "lg", "", "nike"]
    lines = ["event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"]
    for k, (user, item, when) in enumerate(_interactions(3, n)):
        group = item // (N_ITEMS // N_GROUPS)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
        session = f"72d76fde-8bb3-4e00-8c23-{user:04d}{when.day:08d}"
        lines.append(
            f"{stamp},{kinds[k % len(kinds)]},{44600062 + item},{2103807459595387724 + group},{codes[group]},"
            f"{brands[group]},{35.79 + item:.2f},{541312140 + user},{session}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def taobao(path: Path, n: int = 400) -> Path:
    """UserBehavior.csv: no header; plus two rows stamped outside the publisher's period."""
    kinds = ["pv"] * 7 + ["cart", "fav", "buy"]
    start = datetime(2017, 11, 25, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # China time
    lines = []
    for k, (user, item, when) in enumerate(_interactions(4, n, days=8)):
        stamp = int((start + (when - START)).timestamp())
        group = item // (N_ITEMS // N_GROUPS)
        lines.append(f"{user + 1},{2268318 + item},{2520377 + group},{kinds[k % len(kinds)]},{stamp}")
    lines.insert(5, "7,2268318,2520377,pv,-1")
    lines.append("8,2268319,2520377,pv,1512376800")  # 2017-12-04 08:40 China time
    path.write_text("\n".join(lines) + "\n")
    return path


def amazon_2018(folder: Path, n: int = 400) -> tuple[Path, Path]:
    """``<Category>_5.json.gz`` reviews and ``meta_<Category>.json.gz``, 2018 key names and value types."""
    reviews = []
    for k, (user, item, when) in enumerate(_interactions(5, n, days=900)):
        review = {
            "overall": float(5 - k % 3), "verified": True, "reviewTime": when.strftime("%m %d, %Y").lstrip("0"),
            "reviewerID": f"A{user:05d}XYZ", "asin": f"B00{item:07d}", "reviewerName": "Amazon Customer",
            "reviewText": f"great gift for group {item // 6} fans", "summary": "Five Stars",
            "unixReviewTime": int(when.timestamp()),
        }
        if k % 4 == 0:
            review["style"] = {"Gift Amount:": " 50"}
        if k % 7 == 0:
            review["vote"] = "2"
        reviews.append(review)
    for review in reviews[-6:]:  # a word only the last (test-window) reviews use
        review["reviewText"] = "zyzzyva"
    meta = []
    for item in range(N_ITEMS):
        price = "" if item % 5 == 0 else f"${10 + item}.99" if item % 7 else "$1,250.00"
        if item == 11:
            price = ".a-box-inner{background-color:#fff}#alohaBuyBoxWidget .selected{background-color"
        meta.append({
            "category": ["Gift Cards", f"Group {item // 6}"], "tech1": "", "description": [f"Card number {item}.", "Never expires."],
            "fit": "", "title": f"Brand{item // 6} ${25 + item}.00 Gift Card", "also_buy": [], "image": [], "tech2": "",
            "brand": f"Brand{item // 6}", "feature": [], "rank": [] if item % 2 else "1,786 in Gift Cards (",
            "also_view": [], "details": {"ASIN:": f"B00{item:07d}"}, "main_cat": "Gift Cards", "similar_item": "",
            "date": "", "price": price, "asin": f"B00{item:07d}",
        })
    return _gz(folder / "Gift_Cards_5.json.gz", reviews), _gz(folder / "meta_Gift_Cards.json.gz", meta)


def amazon_2023(folder: Path, n: int = 400) -> tuple[Path, Path]:
    """``<Category>.jsonl.gz`` reviews and ``meta_<Category>.jsonl.gz``, 2023 key names (ms timestamps)."""
    reviews = []
    for k, (user, item, when) in enumerate(_interactions(6, n, days=900)):
        reviews.append({
            "rating": float(5 - k % 3), "title": "Nice", "text": f"works well, group {item // 6}", "images": [],
            "asin": f"B0{item:08d}V", "parent_asin": f"B0{item:08d}", "user_id": f"AG{user:06d}KH",
            "timestamp": int(when.timestamp() * 1000) + k % 1000, "helpful_vote": k % 3, "verified_purchase": True,
        })
    meta = [{
        "main_category": "All Beauty", "title": f"Product {item}", "average_rating": 4.5, "rating_number": 10,
        "features": ["Soft"], "description": [] if item % 2 else ["A description."],
        "price": None if item % 3 == 0 else 9.5 + item, "images": [], "videos": [], "store": f"Store {item // 6}",
        "categories": [] if item % 4 else ["Beauty", "Hair"], "details": {"Brand": f"Store {item // 6}"},
        "parent_asin": f"B0{item:08d}", "bought_together": None,
    } for item in range(N_ITEMS)]
    for review in reviews[-6:]:
        review["text"] = "zyzzyva"
    return _gz(folder / "All_Beauty.jsonl.gz", reviews), _gz(folder / "meta_All_Beauty.jsonl.gz", meta)


def _gz(path: Path, records: list[dict]) -> Path:
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    return path


def online_retail_xlsx(path: Path, n: int = 400) -> Path:
    """``Online Retail.xlsx`` as UCI publishes it: one sheet, typed cells (dates, float CustomerID)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Online Retail"
    sheet.append(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"])
    for k, (user, item, when) in enumerate(_interactions(1, n)):
        code: int | str = 85100 + item if item % 5 else f"{85100 + item}A"
        customer = None if k % 9 == 4 else float(12346 + user)
        row = [536365 + k, code, f"HEART HOLDER {item}", 1 + k % 6, when.replace(tzinfo=None), 1.25 + item * 0.5, customer, "United Kingdom"]
        sheet.append(row)
        if k % 25 == 3:
            sheet.append([f"C{536365 + k}", code, f"HEART HOLDER {item}", -(1 + k % 6), when.replace(tzinfo=None), 1.25, customer, "United Kingdom"])
    book.save(path)
    return path
