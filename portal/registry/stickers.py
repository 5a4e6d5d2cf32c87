"""Cabin stickers: the resident link of each unit as a QR code, with the unit's name, its
site and short instructions in English and French.

segno draws the QR codes (vector, error correction level M so a scuffed sticker still
scans) and reportlab lays out the printable A4 page: 2 × 4 stickers of 95 × 66 mm per
page, with cut margins. The SVG of one sticker comes from segno alone.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Scan to see if this unit works, when it will be fixed, and to tell us.",
    "Scannez pour savoir si l'appareil fonctionne, quand il sera réparé, et nous écrire.",
)
COLUMNS, ROWS = 2, 4
STICKER_W, STICKER_H = 95 * mm, 66 * mm
QR_SIZE = 52 * mm


@dataclass(frozen=True)
class Sticker:
    """What one sticker shows."""

    url: str
    asset_name: str
    site_name: str
    address: str


def resident_url(public_url: str, token: str) -> str:
    """The resident link a sticker's QR code holds."""
    return f"{public_url.rstrip('/')}/r/{token}"


def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def sticker_svg(sticker: Sticker) -> bytes:
    """One sticker's QR code as a standalone SVG, titled with the unit and site."""
    out = io.BytesIO()
    _qr(sticker.url).save(out, kind="svg", scale=8, border=4, xmldecl=True,
                          title=f"{sticker.asset_name} — {sticker.site_name}")  # fmt: skip
    return out.getvalue()


def _draw_qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code as one filled path of its dark modules (vector: sharp at any printer
    resolution). One path, not a square per module: a rasteriser fills the union, so no
    light seam is drawn between neighbouring modules (scanners misread such seams)."""
    matrix = [list(row) for row in _qr(url).matrix]
    border = 2
    n = len(matrix) + 2 * border
    module = size / n
    canvas.setFillColorRGB(0, 0, 0)
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            run = c
            while run < len(row) and row[run]:
                run += 1
            path.rect(
                x + (c + border) * module, y + size - (r + border + 1) * module, (run - c) * module, module
            )
            c = run
    canvas.drawPath(path, stroke=0, fill=1)


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    while text and canvas.stringWidth(text, font, size) > width:
        text = text[:-2] + "…"
    return text


def _draw_sticker(canvas: Canvas, sticker: Sticker, x: float, y: float) -> None:
    canvas.setStrokeColorRGB(0.75, 0.75, 0.75)
    canvas.setDash(2, 2)
    canvas.rect(x, y, STICKER_W, STICKER_H, stroke=1, fill=0)  # cut line
    canvas.setDash()
    pad = 5 * mm
    _draw_qr(canvas, sticker.url, x + pad, y + (STICKER_H - QR_SIZE) / 2, QR_SIZE)
    text_x = x + pad + QR_SIZE + 3 * mm
    width = STICKER_W - (text_x - x) - pad
    top = y + STICKER_H - pad - 4 * mm
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(text_x, top, _fit(canvas, sticker.asset_name, "Helvetica-Bold", 12, width))
    text = canvas.beginText(text_x, top - 5 * mm)
    text.setFont("Helvetica", 8)
    for part in (sticker.site_name, sticker.address):
        lines = _wrap(canvas, part, width, 8)
        for line in lines[:2]:
            text.textLine(_fit(canvas, line, "Helvetica", 8, width))
    text.moveCursor(0, 6)
    text.setFont("Helvetica", 7)
    for sentence in INSTRUCTIONS:
        for line in _wrap(canvas, sentence, width, 7):
            text.textLine(line)
        text.moveCursor(0, 2)
    canvas.drawText(text)


def _wrap(canvas: Canvas, sentence: str, width: float, size: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in sentence.split():
        trial = f"{current} {word}".strip()
        if canvas.stringWidth(trial, "Helvetica", size) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    return [*lines, current] if current else lines


def stickers_pdf(stickers: Sequence[Sticker], title: str) -> bytes:
    """A printable A4 PDF, eight stickers per page, in the order given."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor("Equipment portal")
    page_w, page_h = A4
    margin_x = (page_w - COLUMNS * STICKER_W) / 2
    margin_y = (page_h - ROWS * STICKER_H) / 2
    per_page = COLUMNS * ROWS
    for i, sticker in enumerate(stickers):
        if i and i % per_page == 0:
            canvas.showPage()
        slot = i % per_page
        col, row = slot % COLUMNS, slot // COLUMNS
        _draw_sticker(canvas, sticker, margin_x + col * STICKER_W, page_h - margin_y - (row + 1) * STICKER_H)
    canvas.showPage()
    canvas.save()
    logger.info("sticker sheet %r: %d stickers", title, len(stickers))
    return out.getvalue()
