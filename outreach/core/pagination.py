"""Page through a SQLAlchemy select with a total count."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 500


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)


def parse_page_args(args, default_per_page: int = 50) -> tuple[int, int]:
    """Read `page` and `per_page` from a query-string mapping, clamped to sane bounds."""

    def as_int(name: str, default: int) -> int:
        try:
            return int(args.get(name, default))
        except (TypeError, ValueError):
            return default

    page = max(1, as_int("page", 1))
    per_page = min(MAX_PER_PAGE, max(1, as_int("per_page", default_per_page)))
    return page, per_page


def paginate(
    session: Session, stmt: Select, page: int, per_page: int, scalars: bool = True
) -> Page:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars() if scalars else result)
    return Page(items=items, page=page, per_page=per_page, total=total)
