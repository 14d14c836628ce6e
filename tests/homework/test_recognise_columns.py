"""Without a kernel: 2.2's exercise 2, columns selected by name, judged on the frames read
after the cell; the book's ``iloc`` cells and a dict indexed by a string answer nothing."""

from __future__ import annotations

import numpy as np
from book import BOOK

from grader.homework.recognise import ColumnsByName, Evidence
from grader.notebook.load import Cell
from grader.notebook.static import parse_cell
from grader.results import CellRecord
from grader.values import ArrayValue, FrameValue

REC = ColumnsByName("2.2-2", section="2.2", title="")


def codes(*sources: str) -> list:
    return [parse_cell(Cell(index=i, kind="code", source=s)) for i, s in enumerate(sources)]


def frame(names: list[str], rows: int = 4) -> FrameValue:
    return FrameValue([{"name": n, "values": ArrayValue(np.zeros(rows))} for n in names], rows)


HOUSE = frame(["NumRooms", "RoofType", "Price"])


def measured(source: str, values: dict, record: CellRecord | None = None) -> tuple[str, str]:
    [attempt] = REC.find(codes(source))
    m = REC.measure(attempt, Evidence(values, {0: record or CellRecord(0, "ok")}, [], [], []))
    return m.status, m.message


def test_the_books_iloc_cells_are_no_answer() -> None:
    assert REC.find(codes(*BOOK["2.2"])) == []
    assert REC.find(codes("\n".join(BOOK["2.2"]))) == []


def test_columns_by_name_with_loc_and_brackets() -> None:
    source = "inputs, targets = data.loc[:, ['NumRooms', 'RoofType']], data['Price']\nprint(inputs)"
    [attempt] = REC.find(codes(source))
    assert attempt.reads == ("data", "inputs", "targets")
    got = measured(source, {"data": HOUSE, "inputs": frame(["NumRooms", "RoofType"]),
                            "targets": FrameValue([{"name": "Price", "values": ArrayValue(np.zeros(4))}], -1)})
    assert got == ("correct", "selected NumRooms, RoofType of `data` by name (the book's data.iloc[:, 0:2]); "
                              "Price of `data` by name")
    # printed, not assigned: the labels are checked against the frame's columns
    assert measured("print(data[['Price']])", {"data": HOUSE}) == ("correct", "selected Price of `data` by name")


def test_a_misspelt_column_and_a_dict_are_judged() -> None:
    assert measured("data[['Rooms']]", {"data": HOUSE}) == (
        "wrong", "`data` has no column 'Rooms' (its columns: NumRooms, RoofType, Price)")
    assert measured("x = data['rooms']", {"data": HOUSE}, CellRecord(0, "error", ename="KeyError", evalue="'rooms'")) == (
        "wrong", "selecting by name raised KeyError: 'rooms': a label must be one of the frame's column names, "
                 "spelled as `data.columns` shows them")
    assert measured("lr = params['lr']", {"params": {"lr": 0.1}}) == ("none", "no data frame was indexed by column names")
