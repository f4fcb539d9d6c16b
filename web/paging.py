"""GOV.UK pagination for a paged list of any length: first, last and the pages around this one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def pagination(page: int, pages: int, href: Callable[[int], str], around: int = 2) -> dict[str, Any] | None:
    """The ``govukPagination`` parameters (None for a single page), with ellipses between far pages."""
    if pages <= 1:
        return None
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    items: list[dict[str, Any]] = []
    for before, n in zip([0, *shown], shown, strict=False):
        if before and n > before + 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": href(n), "current": n == page})
    return {
        "items": items,
        "previous": {"href": href(page - 1)} if page > 1 else None,
        "next": {"href": href(page + 1)} if page < pages else None,
    }
