"""Cells and tables of the Excel workbook: typed values, number formats, and untrusted text kept inert.

Text that comes from AWS (job names, tags, account names, failure reasons, family names) is data. openpyxl
turns any string starting with "=" into a formula, so every text cell is forced back to a plain string,
and a hyperlink is only ever made from a console URL that isoaudit built itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart._chart import ChartBase
from openpyxl.comments import Comment
from openpyxl.drawing.spreadsheet_drawing import AnchorMarker, TwoCellAnchor
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

# Excel refuses longer cell texts.
MAX_CELL_TEXT = 32_767
CONSOLE_LINK_TEXT = "open in console"
# Hosts of the AWS console in the commercial, GovCloud and China partitions.
CONSOLE_HOSTS = ("console.aws.amazon.com", "console.amazonaws-us-gov.com", "console.amazonaws.cn")

FONT_NAME = "Calibri"


def cell_font(**style: object) -> Font:
    """A font that names its typeface: without a name, other applications fall back to their own default."""
    return Font(name=FONT_NAME, size=style.pop("size", 11), **style)  # type: ignore[arg-type]


HEADER_FONT = cell_font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center")
WRAPPED = Alignment(wrap_text=True)
LINE_HEIGHT = 15  # points per line of 11 pt text
# Proportional body text fits more characters on a line than a column's width counts (widths count "0"s).
BODY_CHARACTERS_PER_WIDTH = 1.2
LINK_FONT = cell_font(color="0563C1", underline="single")
NOTE_FONT = cell_font(italic=True, color="595959")
THIN_BOTTOM = Border(bottom=Side(style="thin", color="BFBFBF"))

# Excel's own "bad", "neutral" and "good" colors, so they read as they do everywhere else. The fonts
# here are conditional-format overrides: they change the color and keep the cell's typeface.
BAD_COLOR = "9C0006"
GOOD_COLOR = "006100"
BAD_FILL = PatternFill("solid", fgColor="FFC7CE", bgColor="FFC7CE")
BAD_FONT = Font(color=BAD_COLOR)
WARN_FILL = PatternFill("solid", fgColor="FFEB9C", bgColor="FFEB9C")
WARN_FONT = Font(color="9C5700")
MUTED_FILL = PatternFill("solid", fgColor="E7E6E6", bgColor="E7E6E6")


class Kind(Enum):
    """How a column's values are written and formatted."""

    TEXT = "text"
    INTEGER = "integer"
    # Rates are 0-100 in the report; they are written as fractions so that Excel's percent format,
    # sums and charts treat them as the percentages they are.
    RATE = "rate"
    HOURS = "hours"
    DAYS = "days"
    USD = "usd"
    TIMESTAMP = "timestamp"
    FLAG = "flag"
    CONSOLE_LINK = "console_link"


NUMBER_FORMATS = {
    Kind.INTEGER: "#,##0",
    Kind.RATE: "0.0%",
    Kind.HOURS: "#,##0.0",
    Kind.DAYS: "#,##0.0",
    # Dollars with cents; an unpriced amount is an empty cell, never $0.
    Kind.USD: '"$"#,##0.00',
    Kind.TIMESTAMP: "yyyy-mm-dd hh:mm",
}


@dataclass(frozen=True)
class Column:
    """One column of a data sheet: where its values come from and what it means."""

    header: str
    source: str
    kind: Kind
    description: str
    width: float = 12
    # Long free text wraps within the column instead of running over its neighbours.
    wrap: bool = False
    # Overrides the kind's number format (a weekly measure's unit says how it is shown).
    number_format: str | None = None


@dataclass(frozen=True)
class TableArea:
    """Where write_table put a table, for filters, freezing and conditional formats."""

    header_row: int
    last_row: int
    letters: dict[str, str]

    @property
    def first_data_row(self) -> int:
        return self.header_row + 1

    @property
    def ref(self) -> str:
        letters = list(self.letters.values())
        return f"{letters[0]}{self.header_row}:{letters[-1]}{self.last_row}"

    def data_ref(self, source: str) -> str:
        letter = self.letters[source]
        return f"{letter}{self.first_data_row}:{letter}{max(self.last_row, self.first_data_row)}"

    def first_cell(self, source: str) -> str:
        return f"{self.letters[source]}{self.first_data_row}"


def is_missing(value: object) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def naive_utc(value: object) -> dt.datetime | None:
    """Excel has no time zones: write UTC wall time, and say "UTC" in the header."""
    if is_missing(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def write_text(cell: Cell, value: object) -> None:
    """Write `value` as inert text: never a formula, an error code or a link."""
    if is_missing(value):
        return
    # Control characters are illegal in the file format: drop them rather than fail the whole report.
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))[:MAX_CELL_TEXT]
    cell.value = text
    cell.data_type = "s"


def is_console_url(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "https" and any(host == h or host.endswith(f".{h}") for h in CONSOLE_HOSTS)


def write_console_link(cell: Cell, url: object) -> None:
    # The report builds the URL from the region and the quoted job name; anything else is not linked.
    if is_missing(url) or not is_console_url(str(url)):
        return
    write_text(cell, CONSOLE_LINK_TEXT)
    cell.hyperlink = str(url)
    cell.font = LINK_FONT


def write_value(cell: Cell, value: object, kind: Kind) -> None:
    """Write one value of a column; missing values leave the cell empty so that filters and sums work."""
    if kind is Kind.TEXT:
        write_text(cell, value)
        return
    if kind is Kind.CONSOLE_LINK:
        write_console_link(cell, value)
        return
    if is_missing(value):
        return
    if kind is Kind.FLAG:
        write_text(cell, "yes" if bool(value) else "no")
        return
    if kind is Kind.TIMESTAMP:
        cell.value = naive_utc(value)
    elif kind is Kind.INTEGER:
        cell.value = int(value)  # type: ignore[call-overload]
    elif kind is Kind.RATE:
        cell.value = float(value) / 100  # type: ignore[arg-type]
    else:
        cell.value = float(value)  # type: ignore[arg-type]
    cell.number_format = NUMBER_FORMATS[kind]


def write_header(sheet: Worksheet, *, row: int, columns: Sequence[Column], first_column: int = 1) -> None:
    """Bold header cells sized to show every header whole, each with its column's meaning as a comment."""
    lines = 1
    for offset, column in enumerate(columns):
        cell = sheet.cell(row=row, column=first_column + offset)
        write_text(cell, column.header)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = HEADER_ALIGNMENT
        # The schema's description travels with the header, so a reader can hover to learn the meaning.
        cell.comment = Comment(column.description, "isoaudit", width=260, height=90)
        sheet.column_dimensions[get_column_letter(first_column + offset)].width = column.width
        # Bold header text is wider than body text, and the filter button takes a character.
        lines = max(lines, wrapped_lines(column.header, characters=column.width - 1))
    sheet.row_dimensions[row].height = LINE_HEIGHT * lines + 4


def wrapped_lines(text: str, *, characters: float) -> int:
    """Lines `text` takes when wrapped at word boundaries, `characters` to a line."""
    lines, used = 1, 0
    for word in text.split():
        needed = len(word) if used == 0 else used + 1 + len(word)
        if used and needed > characters:
            lines, used = lines + 1, len(word)
        else:
            used = needed
    return lines


def fit_row_height(sheet: Worksheet, *, row: int, lines: int) -> None:
    """Make a row tall enough for `lines` of wrapped text: applications do not resize rows on opening."""
    needed = LINE_HEIGHT * lines + 3
    if lines > 1 and needed > (sheet.row_dimensions[row].height or 0):
        sheet.row_dimensions[row].height = needed


def write_table(
    sheet: Worksheet,
    *,
    frame: pd.DataFrame,
    columns: Sequence[Column],
    header_row: int = 1,
    first_column: int = 1,
    empty_note: str = "None this week.",
) -> TableArea:
    """Write a header and one row per frame row; an empty frame gets a note instead of rows."""
    write_header(sheet, row=header_row, columns=columns, first_column=first_column)
    letters = {column.source: get_column_letter(first_column + i) for i, column in enumerate(columns)}
    if frame.empty:
        note = sheet.cell(row=header_row + 1, column=first_column)
        write_text(note, empty_note)
        note.font = NOTE_FONT
        return TableArea(header_row=header_row, last_row=header_row + 1, letters=letters)
    sources = [column.source for column in columns]
    for row_offset, values in enumerate(frame[sources].itertuples(index=False, name=None), start=1):
        for column_offset, (column, value) in enumerate(zip(columns, values, strict=True)):
            cell = sheet.cell(row=header_row + row_offset, column=first_column + column_offset)
            write_value(cell, value, column.kind)
            if column.number_format and cell.value is not None:
                cell.number_format = column.number_format
            if column.wrap and cell.value is not None:
                cell.alignment = WRAPPED
                lines = wrapped_lines(str(cell.value), characters=column.width * BODY_CHARACTERS_PER_WIDTH)
                fit_row_height(sheet, row=cell.row, lines=lines)
    return TableArea(header_row=header_row, last_row=header_row + len(frame), letters=letters)


def highlight(
    sheet: Worksheet,
    *,
    area: TableArea,
    source: str,
    condition: str,
    fill: PatternFill | None = None,
    font: Font | None = None,
) -> None:
    """Color the cells of one column where `condition` holds; `{cell}` stands for each cell in turn.

    The condition is a conditional-format rule built here from constants, never from report text.
    """
    rule = FormulaRule(formula=[condition.format(cell=area.first_cell(source))], fill=fill, font=font)
    sheet.conditional_formatting.add(area.data_ref(source), rule)


def set_print_layout(sheet: Worksheet, *, title_rows: str | None, fit_height: int) -> None:
    """Landscape, as wide as one page; `fit_height` 0 lets long tables run over as many pages as needed."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = fit_height
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5
    sheet.print_options.horizontalCentered = True
    if title_rows:
        sheet.print_title_rows = title_rows
    sheet.oddFooter.left.text = "&A"
    sheet.oddFooter.right.text = "page &P of &N"


def finish_data_sheet(sheet: Worksheet, *, area: TableArea, frozen_columns: int = 0) -> None:
    """Frozen header (and key columns), filter on every column, printable on pages as wide as the sheet."""
    sheet.freeze_panes = f"{get_column_letter(frozen_columns + 1)}{area.first_data_row}"
    sheet.auto_filter.ref = area.ref
    set_print_layout(sheet, title_rows=f"{area.header_row}:{area.header_row}", fit_height=0)


def place_chart(sheet: Worksheet, *, chart: ChartBase, cells: str) -> None:
    """Anchor `chart` to a cell range, so it fills those cells whatever the fonts of the reader's machine."""
    min_column, min_row, max_column, max_row = range_boundaries(cells)
    # Markers count from 0; the end marker is the cell just past the range.
    chart.anchor = TwoCellAnchor(
        _from=AnchorMarker(col=min_column - 1, row=min_row - 1), to=AnchorMarker(col=max_column, row=max_row)
    )
    sheet.add_chart(chart)
