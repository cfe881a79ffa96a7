"""One small storm for the package: 15 companies, 45 runs, 20 % of provider calls faulted.

It runs on a database of its own, of the suite's kind (SQLite, or PostgreSQL with
``TEST_DATABASE_URL``): the storm commits for real, from many threads at once. The census
is taken as soon as every run has ended, before any test looks at (or plants into) it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from portal.extensions import db
from tests.conftest import scratch_database

from . import census
from .harness import Storm, StormSize
from .journeys import JOURNEYS, Outcome, Person

SMALL_STORM = StormSize(
    companies=15,  # 45 runs: a Meta, a 360dialog and an A2P run per company
    people=45,  # every journey at once
    time_scale=30.0,
    patience=30.0,
    settle_seconds=120.0,
)


@dataclass
class StormResult:
    storm: Storm  # stopped: no job runs any more; its app and sandbox can still be read
    outcomes: list[Outcome]
    census: census.Census


@pytest.fixture(scope="package")
def small_storm(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with scratch_database(database_url, tmp_path_factory.mktemp("storm")) as url:
        with Storm(url, tmp_path_factory.mktemp("storm-instance"), SMALL_STORM) as storm:
            outcomes = storm.run(JOURNEYS, Person)
            storm.settle()
        with storm.app.app_context():
            told = [message for outcome in outcomes for message in outcome.messages]
            result = census.take(storm.sandbox, db.session, storm.answers.errors, told)
            db.session.remove()
        yield StormResult(storm, outcomes, result)
        with storm.app.app_context():
            db.engine.dispose()
