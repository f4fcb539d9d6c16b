"""The worker's folding of the kept tallies (engine.persistence.tallies): counts stay exact without
it; folding keeps each count a short sum however long the service runs."""

from __future__ import annotations

from collections.abc import Callable

from engine.bootstrap import Runtime
from engine.persistence import tallies


def fold_tallies(rt: Runtime, stop: Callable[[], bool] = lambda: False, batch: int = tallies.FOLD_BATCH
                 ) -> dict[str, int]:  # fmt: skip
    """Fold the deltas into the tallies, ``batch`` at a time, each batch its own short transaction."""
    folded = 0
    while not stop():
        with rt.uow() as uow:
            done = tallies.fold(uow.session, batch)
            uow.commit()
        folded += done
        if done < batch:
            break
    return {"tallies_folded": folded}
