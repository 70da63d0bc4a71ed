"""Scheduled news whose time came, told by support's news timer as `news_went_live` (issue #17): once per
publication time, never for an item shown at once or withdrawn, so the gateway's dashboard view (fed by
events) shows it without asking the clock. The rule without I/O, then the timer's function on the test's
event store with the shared clock moved."""

from __future__ import annotations

import dataclasses
import datetime as dt

from kernel import clock
from kernel.events import NewEvent, stamp
from services.support.domain import News
from tests.support.helpers import dashboard_news, staff

T0 = dt.datetime(2027, 5, 4, 9, 0)
AT = T0 + dt.timedelta(hours=3)


def run(news: News, new_events: list[NewEvent], at: dt.datetime) -> list[NewEvent]:
    for event in stamp(news.stream_id, news.version + 1, new_events, {}):
        news.apply(dataclasses.replace(event, occurred_at=at))
    return new_events


def scheduled(published_at: dt.datetime = AT, written_at: dt.datetime = T0) -> News:
    news = News("news-n1")
    run(news, news.publish("Przerwa serwisowa", "W nocy.", "pl", ["hosting-start"], published_at), written_at)
    return news


def test_a_scheduled_item_is_told_once_when_its_time_comes():
    news = scheduled()
    assert news.went_live(AT - dt.timedelta(seconds=1)) == []
    [told] = run(news, news.went_live(AT), AT)
    assert told.type == "news_went_live"
    assert told.data == {"news_id": "n1", "title": "Przerwa serwisowa", "language": "pl",
                         "concerns_plans": ["hosting-start"], "published_at": "2027-05-04T12:00:00Z"}  # fmt: skip
    assert news.went_live(AT + dt.timedelta(days=1)) == []  # decided again on the same state: nothing


def test_an_item_shown_at_once_or_withdrawn_is_never_told():
    assert scheduled(published_at=T0, written_at=T0).went_live(AT) == []  # its own news_published told it
    assert scheduled(published_at=T0 - dt.timedelta(hours=1)).went_live(AT) == []
    withdrawn = scheduled()
    run(withdrawn, withdrawn.withdraw(), T0 + dt.timedelta(hours=1))
    assert withdrawn.went_live(AT) == []
    assert News("news-none").went_live(AT) == []


def test_an_item_moved_to_a_later_time_is_told_at_the_new_time():
    news = scheduled()
    run(news, news.went_live(AT), AT)
    later = AT + dt.timedelta(days=2)
    run(news, news.update({"published_at": later}), AT + dt.timedelta(hours=1))
    assert news.went_live(later - dt.timedelta(minutes=1)) == []
    assert [e.data["published_at"] for e in news.went_live(later)] == ["2027-05-06T12:00:00Z"]
    edited_after = scheduled()
    run(edited_after, edited_after.update({"title": "Nowy tytuł"}), AT + dt.timedelta(hours=1))  # after its time
    assert edited_after.went_live(AT + dt.timedelta(hours=2)) == []  # news_updated showed it


def test_the_timer_tells_a_scheduled_item_once_when_the_clock_reaches_it(support, clock_file):
    worker = support.worker
    at = clock.now() + dt.timedelta(hours=2)
    item = worker.publish_news("Nowy cennik", "Od jutra.", "pl", None, at.isoformat(), ctx=staff())
    worker.publish_news("Od razu", "Teraz.", "pl", ctx=staff())
    assert worker.run_news_timer() == {"news_went_live": 0}
    assert [n["title"] for n in dashboard_news(worker, "acc-1", "pl")] == ["Od razu"]

    clock.advance(2 * 3600 + 1)
    assert [n["title"] for n in dashboard_news(worker, "acc-1", "pl")] == ["Nowy cennik", "Od razu"]
    assert worker.run_news_timer() == {"news_went_live": 1}
    assert worker.run_news_timer() == {"news_went_live": 0}  # the timer running twice: told once
    [told] = support.dispatch.of("news_went_live")
    assert told["data"]["news_id"] == item["news_id"] and told["meta"]["actor"]["id"] == "support-news"
    clock.advance(40 * 86_400)  # far past: nothing more, and nothing for the item shown at once
    assert worker.run_news_timer() == {"news_went_live": 0}
