"""The rate-limit headers a gateway answer carries, from an account view."""

from __future__ import annotations

from schemas.ledger import AccountView, WindowUsage
from streams.gateway.metering import rate_limit_headers

NOW = 1_795_329_000  # a Unix time 40 s into a minute
MINUTE_END = (NOW // 60 + 1) * 60
MONTH_END = (NOW // 2_592_000 + 1) * 2_592_000


def view(*usage: WindowUsage) -> AccountView:
    return AccountView(name="acme", plan="basic", usage=list(usage))


def test_the_tightest_window_is_the_one_with_fewest_left() -> None:
    headers = rate_limit_headers(
        view(
            WindowUsage(window="minute", limit=10, remaining=7, reset_at=MINUTE_END),
            WindowUsage(window="month", limit=100, remaining=2, reset_at=MONTH_END),
        ),
        NOW,
    )
    assert headers == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": str(MONTH_END),
        "RateLimit-Policy": '"minute";q=10;w=60, "month";q=100;w=2592000',
        "RateLimit": f'"month";r=2;t={MONTH_END - NOW}',
    }


def test_a_window_that_ended_since_the_view_is_full_again() -> None:
    earlier = WindowUsage(window="minute", limit=10, remaining=0, reset_at=NOW - 5)
    headers = rate_limit_headers(view(earlier), NOW)
    assert headers["X-RateLimit-Remaining"] == "10"
    assert headers["X-RateLimit-Reset"] == str(MINUTE_END)
    assert headers["RateLimit"] == f'"minute";r=10;t={MINUTE_END - NOW}'


def test_an_unlimited_plan_has_no_headers() -> None:
    assert rate_limit_headers(view(), NOW) == {}
