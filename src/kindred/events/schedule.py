"""Time-driven events: what the calendar makes happen (contract expiring in N days, warranty
ending, birthday coming, no purchase for N days).

Ids are derived from the fact, not the day it was noticed (``contract-expiring:<id>:<end>``),
so running the scheduler every hour, twice after a restart, or after a missed day emits each
fact exactly once: the bus deduplicates on source + id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kindred.events.envelope import format_time
from kindred.records.models import RecordLink, RecordRow
from kindred.records.storage import field_expression, object_is

SOURCE = "kindred://scheduler"
records: sa.Table = RecordRow.__table__  # type: ignore[assignment]
links: sa.Table = RecordLink.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ScheduleSettings:
    warranty_notice_days: int = 30
    birthday_notice_days: int = 7
    lapsed_purchase_days: int = 90
    # Contracts say their own notice period (renewal_notice_days); this caps the look-ahead.
    max_contract_notice_days: int = 365


def _event(
    event_id: str, event_type: str, key: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event_type,
        "time": format_time(now),
        "subject": key,
        "partitionkey": key,
        "datacontenttype": "application/json",
        "data": data,
    }


def _link_target(relation: str) -> Any:
    return (
        sa.select(links.c.target_id)
        .where(links.c.source_id == records.c.id, links.c.relation == relation)
        .limit(1)
        .scalar_subquery()
    )


def time_driven_events(
    session: Session, today: date, settings: ScheduleSettings, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    events: list[dict[str, Any]] = []

    def field(name: str, kind: str = "text") -> Any:
        return field_expression(dialect, name, kind)

    # Contracts: active, ending within their own notice period.
    horizon = (today + timedelta(days=settings.max_contract_notice_days)).isoformat()
    rows: Any = session.execute(
        sa.select(
            records.c.id,
            field("end_date"),
            field("renewal_notice_days", "number"),
            field("value", "number"),
            field("renewal"),
            _link_target("contract.account"),
        ).where(
            object_is("contract"),
            field("status") == "active",
            field("end_date") >= today.isoformat(),
            field("end_date") <= horizon,
        )
    ).all()
    for contract_id, end_date, notice, value, renewal, account_id in rows:
        days_left = (date.fromisoformat(end_date) - today).days
        if days_left > int(notice if notice is not None else 60):
            continue
        data: dict[str, Any] = {
            "contract_id": contract_id,
            "end_date": end_date,
            "days_left": days_left,
        }
        if account_id:
            data["account_id"] = account_id
        if value is not None:
            data["value"] = float(value)
        if renewal:
            data["renewal"] = renewal
        events.append(
            _event(
                f"contract-expiring:{contract_id}:{end_date}",
                "contract.contract.expiring",
                account_id or contract_id,
                data,
                now,
            )
        )

    # Assets whose warranty ends soon.
    until = (today + timedelta(days=settings.warranty_notice_days)).isoformat()
    rows = session.execute(
        sa.select(records.c.id, field("warranty_until"), _link_target("asset.account")).where(
            object_is("asset"),
            field("status") != "retired",
            field("warranty_until") >= today.isoformat(),
            field("warranty_until") <= until,
        )
    ).all()
    for asset_id, warranty_until, account_id in rows:
        data = {
            "asset_id": asset_id,
            "warranty_until": warranty_until,
            "days_left": (date.fromisoformat(warranty_until) - today).days,
        }
        if account_id:
            data["account_id"] = account_id
        events.append(
            _event(
                f"warranty-ending:{asset_id}:{warranty_until}",
                "iot.device.warranty_ending",
                asset_id,
                data,
                now,
            )
        )

    # Birthdays in the next N days (month-day match, so the year of birth does not matter).
    upcoming = {
        (today + timedelta(days=offset)).strftime("%m-%d"): offset
        for offset in range(settings.birthday_notice_days + 1)
    }
    month_day = sa.func.substr(field("birthday"), 6, 5)
    rows = session.execute(
        sa.select(
            records.c.id, field("birthday"), month_day, _link_target("contact.account")
        ).where(object_is("contact"), month_day.in_(list(upcoming)))
    ).all()
    for contact_id, birthday, md, account_id in rows:
        offset = upcoming[md]
        occurs = today + timedelta(days=offset)
        data = {"contact_id": contact_id, "birthday": birthday, "days_left": offset}
        if account_id:
            data["account_id"] = account_id
        events.append(
            _event(
                f"birthday:{contact_id}:{occurs.isoformat()}",
                "customer.birthday.upcoming",
                account_id or contact_id,
                data,
                now,
            )
        )

    # Accounts whose last order is N (or more, within a week of catching up) days old.
    lapse = settings.lapsed_purchase_days
    window_start = datetime.combine(today - timedelta(days=lapse + 7), datetime.min.time(), UTC)
    window_end = datetime.combine(today - timedelta(days=lapse - 1), datetime.min.time(), UTC)
    account = _link_target("order.account")
    ordered = field("ordered_at")
    last_orders = (
        sa.select(account.label("account_id"), sa.func.max(ordered).label("last_at"))
        .where(object_is("order"), ordered.is_not(None))
        .group_by(account)
        .subquery()
    )
    rows = session.execute(
        sa.select(last_orders.c.account_id, last_orders.c.last_at).where(
            last_orders.c.last_at >= format_time(window_start),
            last_orders.c.last_at < format_time(window_end),
            last_orders.c.account_id.is_not(None),
        )
    ).all()
    for account_id, last_at in rows:
        last_day = datetime.fromisoformat(str(last_at).replace("Z", "+00:00")).date()
        days = (today - last_day).days
        if days < lapse:
            continue
        events.append(
            _event(
                f"purchase-lapsed:{account_id}:{last_day.isoformat()}",
                "customer.purchase.lapsed",
                account_id,
                {
                    "account_id": account_id,
                    "days_since_last_purchase": days,
                    "last_order_date": last_day.isoformat(),
                },
                now,
            )
        )
    return events
