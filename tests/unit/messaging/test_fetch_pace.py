from streams.messaging.faustkit import FetchPace


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
