"""The weekly report: last week's key figures against the week before.

Sent on Sunday at 08:00 in the agency's zone (the worker's job ``reports.weekly``) by e-mail
to ``OVENAI_ALERT_EMAILS`` — each address in its user's language, else
``OVENAI_ALERT_LANGUAGE`` — as HTML with a text part, and shown on the dashboard
(``/admin/reports/weekly``). A week runs from Sunday 00:00 to the next Sunday 00:00, as the
Israeli working week does. Figures only (counts, rates, durations, template names, error
codes); the slowest first responses link to their leads by id, never by name or phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from html import escape

from ovenai import kpis, notifiers
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.settings import Settings

SUNDAY = 6  # date.weekday() of Sunday


@dataclass(frozen=True)
class WeeklyReport:
    """One week's figures, the week before's, and the week's days."""

    first_day: date
    week: kpis.Report
    before: kpis.Report
    days: list[kpis.Day]


def week_of(day: date) -> date:
    """The Sunday that starts the week of ``day``."""
    return day - timedelta(days=(day.weekday() - SUNDAY) % 7)


def last_full_week(now: datetime, zone: tzinfo) -> date:
    """The Sunday that starts the last week that has ended at ``now``."""
    return week_of(now.astimezone(zone).date()) - timedelta(days=7)


async def build(db: Database, *, actor: Actor, first_day: date, zone: tzinfo) -> WeeklyReport:
    """The report of the week starting on the Sunday ``first_day`` (admins)."""
    first_day = week_of(first_day)
    start, end = kpis.days_period(first_day, first_day + timedelta(days=6), zone)
    before_start, before_end = kpis.days_period(
        first_day - timedelta(days=7), first_day - timedelta(days=1), zone
    )
    week = await kpis.report(db, actor=actor, start=start, end=end)
    before = await kpis.report(db, actor=actor, start=before_start, end=before_end)
    days = await kpis.daily(db, actor=actor, start=start, end=end, zone=zone)
    return WeeklyReport(first_day=first_day, week=week, before=before, days=days)


# The e-mail's words (a worker sends it: the dashboard's catalogs are the web layer's).
WORDS = {
    "en": {
        "subject": "[OvenAI] Weekly report {first} – {last}",
        "title": "Weekly report",
        "figure": "Figure",
        "this_week": "This week",
        "week_before": "The week before",
        "messages": "Messages with an outcome",
        "delivery": "Delivery rate",
        "read": "Read rate",
        "failure": "Failure rate",
        "reply": "Lead reply rate",
        "response": "First response (median)",
        "unanswered": "Turns not answered yet",
        "graph": "Meta's answer time, 95th percentile",
        "per_day": "Messages per day",
        "templates": "Templates",
        "template": "Template",
        "sent": "Sent",
        "share": "Share",
        "delivered": "Delivered",
        "errors": "Top failure reasons",
        "code": "Code",
        "slowest": "Slowest first responses",
        "waiting": "not answered yet",
        "none": "None",
        "open": "The full report: /admin/reports/weekly",
    },
    "he": {
        "subject": "[OvenAI] דוח שבועי {first} – {last}",
        "title": "דוח שבועי",
        "figure": "מדד",
        "this_week": "השבוע",
        "week_before": "שבוע קודם",
        "messages": "הודעות שהגיעו לתוצאה",
        "delivery": "שיעור מסירה",
        "read": "שיעור קריאה",
        "failure": "שיעור כישלון",
        "reply": "שיעור תגובת לידים",
        "response": "מענה ראשון (חציון)",
        "unanswered": "פניות שעדיין ללא מענה",
        "graph": "זמן התשובה של שרתי וואטסאפ, אחוזון 95",
        "per_day": "הודעות ליום",
        "templates": "תבניות",
        "template": "תבנית",
        "sent": "נשלחו",
        "share": "נתח",
        "delivered": "נמסרו",
        "errors": "סיבות הכישלון הנפוצות",
        "code": "קוד",
        "slowest": "המענים הראשונים האיטיים ביותר",
        "waiting": "עדיין ללא מענה",
        "none": "אין",
        "open": "הדוח המלא: /admin/reports/weekly",
    },
}


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _answer_time(seconds: float | None) -> str:
    """A Graph API answer time: milliseconds under a second, else seconds."""
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _headline(report: kpis.Report) -> dict[str, str]:
    """Each headline figure of one period, written out."""
    return {
        "messages": str(report.cohort),
        "delivery": _percent(report.delivery_rate),
        "read": _percent(report.read_rate),
        "failure": _percent(report.failure_rate),
        "reply": _percent(report.reply_rate),
        "response": _duration(report.first_responses.answered.median_s),
        "unanswered": str(report.first_responses.unanswered),
        "graph": _answer_time(report.graph_api.p95_s),
    }


def figures(report: WeeklyReport, language: str) -> list[tuple[str, str, str]]:
    """(name, this week, the week before) of each headline figure."""
    words = WORDS[language]
    week, before = _headline(report.week), _headline(report.before)
    return [(words[key], week[key], before[key]) for key in week]


def render_email(report: WeeklyReport, language: str, zone: tzinfo) -> tuple[str, str, str]:
    """The subject, the text part and the HTML part of the e-mail in ``language``."""
    words = WORDS.get(language, WORDS["he"])
    lang = language if language in WORDS else "he"
    last = report.first_day + timedelta(days=6)
    subject = words["subject"].format(
        first=report.first_day.strftime("%d/%m/%Y"), last=last.strftime("%d/%m/%Y")
    )
    rows = figures(report, lang)
    text_lines = [subject, ""]
    text_lines += [f"{name}: {now} ({words['week_before']}: {then})" for name, now, then in rows]
    text_lines += ["", words["open"]]
    direction = "rtl" if lang == "he" else "ltr"
    peak = max((day.cohort for day in report.days), default=0) or 1
    html = [
        f'<html lang="{lang}" dir="{direction}"><body style="font-family: sans-serif">',
        f"<h1>{escape(words['title'])} {report.first_day:%d/%m/%Y} – {last:%d/%m/%Y}</h1>",
        '<table cellpadding="6" style="border-collapse: collapse">',
        f"<tr><th>{escape(words['figure'])}</th><th>{escape(words['this_week'])}</th>"
        f"<th>{escape(words['week_before'])}</th></tr>",
    ]
    html += [
        f'<tr><td>{escape(name)}</td><td dir="ltr"><b>{escape(now)}</b></td>'
        f'<td dir="ltr">{escape(then)}</td></tr>'
        for name, now, then in rows
    ]
    html += ["</table>", f"<h2>{escape(words['per_day'])}</h2>", '<table dir="ltr">']
    for day in report.days:
        width = round(200 * day.cohort / peak)
        failed = round(200 * day.failed / peak)
        html.append(
            f'<tr><td>{day.day:%d/%m}</td><td><div style="background:#25a366;height:12px;'
            f'width:{max(width - failed, 0)}px;display:inline-block"></div><div style="'
            f'background:#d64545;height:12px;width:{failed}px;display:inline-block"></div>'
            f" {day.cohort}</td></tr>"
        )
    html += ["</table>", f"<h2>{escape(words['templates'])}</h2>", '<table cellpadding="4">']
    html.append(
        f"<tr><th>{escape(words['template'])}</th><th>{escape(words['sent'])}</th>"
        f"<th>{escape(words['share'])}</th><th>{escape(words['delivered'])}</th></tr>"
    )
    for usage in report.week.templates or []:
        html.append(
            f'<tr><td dir="ltr">{escape(usage.family)}</td><td>{usage.sent}</td>'
            f'<td dir="ltr">{_percent(usage.share)}</td>'
            f'<td dir="ltr">{_percent(usage.delivered_rate)}</td></tr>'
        )
    html += ["</table>", f"<h2>{escape(words['errors'])}</h2>", "<ul>"]
    html += [
        f'<li dir="ltr">{error.code}: {error.count} ({escape(error.title or "—")})</li>'
        for error in report.week.top_errors
    ] or [f"<li>{escape(words['none'])}</li>"]
    html += ["</ul>", f"<h2>{escape(words['slowest'])}</h2>", "<ul>"]
    html += [
        f"<li>{slow.turn_at.astimezone(zone):%d/%m %H:%M} · "
        f"{escape(words['waiting']) if slow.waited_s is None else _duration(slow.waited_s)}"
        f' · <span dir="ltr">/leads/{escape(slow.lead_id)}</span></li>'
        for slow in report.week.first_responses.slowest
    ] or [f"<li>{escape(words['none'])}</li>"]
    html += ["</ul>", f"<p>{escape(words['open'])}</p>", "</body></html>"]
    return subject, "\n".join(text_lines), "\n".join(html)


async def send(db: Database, settings: Settings, now: datetime) -> int:
    """E-mail last week's report to each alert address; how many e-mails went."""
    email = notifiers.configured(settings).get("email")
    if not isinstance(email, notifiers.EmailNotifier):
        return 0
    report = await build(
        db,
        actor=Actor.system(),
        first_day=last_full_week(now, settings.zone),
        zone=settings.zone,
    )
    async with db.session() as session:
        recipients = await notifiers.recipients(session, settings)
    sent = 0
    for address, language in recipients:
        subject, text, html = render_email(report, language, settings.zone)
        await email.send(address, subject, text, html=html)
        sent += 1
    return sent
