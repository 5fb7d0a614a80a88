from streams.messaging.faustkit import FetchPace
from streams.messaging.inflight import Backlog


def test_a_consumer_waits_its_own_wait_while_records_come() -> None:
    pace = FetchPace(busy_ms=10, idle_ms=250, idle_after_s=30)
    assert pace.wait_ms(3, now=1e9) == 10
    assert pace.wait_ms(0, now=1e9 + 29.9) == 10


def test_it_waits_longer_after_a_spell_without_records_and_the_next_record_ends_it() -> None:
    pace = FetchPace(busy_ms=10, idle_ms=250, idle_after_s=30)
    pace.wait_ms(1, now=1e9)
    assert pace.wait_ms(0, now=1e9 + 30) == 250
    assert pace.wait_ms(0, now=1e9 + 300) == 250
    assert pace.wait_ms(1, now=1e9 + 301) == 10


def test_a_consumer_that_already_waits_longer_is_left_alone() -> None:
    pace = FetchPace(busy_ms=500, idle_ms=250, idle_after_s=30)
    pace.wait_ms(1, now=1e9)
    assert pace.wait_ms(0, now=1e9 + 60) == 500


def test_a_full_backlog_waits_longer_while_records_come_and_idle_still_wins() -> None:
    backlog = Backlog()
    waiting = backlog.agent(concurrency=3)
    pace = FetchPace(busy_ms=50, idle_ms=250, idle_after_s=30, backlog_ms=200, backlog=backlog)
    assert pace.wait_ms(1, now=1e9) == 50
    waiting.count = 3
    assert pace.wait_ms(1, now=1e9 + 1) == 200
    waiting.count = 2  # less than a round waits: a new record would be started soon
    assert pace.wait_ms(0, now=1e9 + 2) == 50
    waiting.count = 3
    assert pace.wait_ms(0, now=1e9 + 31) == 250


def test_a_backlog_wait_under_the_busy_wait_changes_nothing() -> None:
    backlog = Backlog()
    backlog.agent(concurrency=1).count = 5
    pace = FetchPace(busy_ms=50, idle_ms=250, idle_after_s=30, backlog_ms=0, backlog=backlog)
    assert pace.wait_ms(1, now=1e9) == 50
