"""Bibliography labels in the same author–year style as the citations in the text.

The chapters cite with sphinxcontrib-bibtex's ``author_year`` reference style ("Ioffe and
Szegedy (2015)"); the stock pybtex styles label the bibliography with numbers or with ``[IS15]``.
The ``nnbook`` style keeps pybtex's ``plain`` formatting (which prints DOIs, arXiv ids and URLs)
and labels each entry "Ioffe and Szegedy, 2015", "He et al., 2016", sorted by author, year and title.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from dataclasses import dataclass, field

import sphinxcontrib.bibtex.plugin
from pybtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle


def _surname(person: Any) -> str:
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


def author_year(entry: Any) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year", "n.d.")
    if not people:
        return f"{entry.fields.get('title', entry.key).split(':')[0]}, {year}"
    if len(people) == 1:
        names = _surname(people[0])
    elif len(people) == 2:
        names = f"{_surname(people[0])} and {_surname(people[1])}"
    else:
        names = f"{_surname(people[0])} et al."
    return f"{names}, {year}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels exactly as the text cites: two works by the same authors in the same year share a
    label, as their citations in the text do (the entries are then adjacent, ordered by title)."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        for entry in sorted_entries:
            yield author_year(entry)


class NnbookStyle(PlainStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = SortingStyle


def _round() -> BracketStyle:
    return BracketStyle(left="(", right=")")


@dataclass
class AuthorYearRound(AuthorYearReferenceStyle):
    """``author_year`` with round brackets: "(Ioffe and Szegedy, 2015)", "Ioffe and Szegedy (2015)"."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round)
    bracket_textual: BracketStyle = field(default_factory=_round)
    bracket_author: BracketStyle = field(default_factory=_round)
    bracket_label: BracketStyle = field(default_factory=_round)
    bracket_year: BracketStyle = field(default_factory=_round)


# registered at import, before sphinxcontrib.bibtex looks the styles up at builder-inited
sphinxcontrib.bibtex.plugin.register_plugin("sphinxcontrib.bibtex.style.referencing",
                                            "author_year_round", AuthorYearRound)


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", "nnbook_author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "nnbook", NnbookStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
