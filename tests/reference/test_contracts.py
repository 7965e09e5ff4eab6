"""The reference contract and payment-history system, over real sockets.

One process (demo ledger seeded, calendar pinned to ``TODAY`` = 2030-01-14) serves the
module. The summary figures are checked against a small ledger loaded here and computed by
hand; tests that load data use credit codes of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kindred.records.credit_codes import credit_code_check_character
from kindred.reference.hospitals import DEMO_HOSPITALS
from tests.reference.conftest import TODAY, call, check_forced_failures, ok, refused, running

JINAN = "12370102454323197X"  # the demo's bad payer
BEIJING = "121101054526018196"


@pytest.fixture(scope="module")
def finance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running("contracts", tmp_path_factory.mktemp("contracts") / "c.db", "--seed-demo") as url:
        yield url


def code(prefix17: str) -> str:
    return prefix17 + credit_code_check_character(prefix17)


def customer(credit_code: str, **changes: Any) -> dict[str, Any]:
    return {
        "credit_code": credit_code,
        "name": "测试医院",
        "credit_limit": 1_000_000,
        "payment_terms_days": 60,
        **changes,
    }


def contract(number: str, credit_code: str, **changes: Any) -> dict[str, Any]:
    item = {
        "number": number,
        "credit_code": credit_code,
        "title": "测试供货合同",
        "amount": 500_000,
        "signed_on": "2029-01-10",
        "start_on": "2029-01-15",
        "end_on": "2030-01-14",
        "status": "active",
        **changes,
    }
    return {key: value for key, value in item.items() if value is not None}


def state(base: str, credit_code: str) -> tuple[Any, ...]:
    """Everything the API shows about a customer, to prove a refusal changed nothing."""
    return tuple(
        ok(base, "GET", f"/api/customers/{credit_code}{tail}")
        for tail in ("", "/contracts", "/invoices", "/payments", "/summary")
    )


SMALL = code("12990201A00000001")
EDGE = code("12990201A00000002")


@pytest.fixture(scope="module")
def small(finance: str) -> str:
    """A hand-made ledger (today is 2030-01-14), loaded in one request."""
    ok(
        finance,
        "POST",
        "/_admin/dataset",
        {
            "customers": [customer(SMALL), customer(EDGE, credit_limit=50_000)],
            "contracts": [
                contract("K1", SMALL),
                contract("K2", SMALL, amount="120000.50", signed_on="2028-06-01",
                         start_on="2028-06-01", end_on="2029-05-31", status="completed"),
                contract("K3", SMALL, amount=80_000, signed_on="2030-01-10",
                         start_on="2030-02-01", end_on="2031-01-31", status="draft"),
                contract("K4", SMALL, amount=50_000, signed_on="2028-03-01",
                         start_on="2028-03-01", end_on="2029-02-28", status="terminated"),
                contract("E1", EDGE, amount=30_000, signed_on="2028-10-01"),
            ],
            "invoices": [
                {"number": "I1", "contract": "K2", "issued_on": "2028-07-01",
                 "due_on": "2028-08-30", "amount": "120000.50"},
                {"number": "I2", "contract": "K1", "issued_on": "2029-02-01",
                 "due_on": "2029-04-02", "amount": 200_000},
                {"number": "I3", "contract": "K1", "issued_on": "2029-06-01",
                 "due_on": "2029-07-31", "amount": 150_000},
                {"number": "I4", "contract": "K1", "issued_on": "2029-11-01",
                 "due_on": "2029-12-31", "amount": 100_000},
                # No due date: the customer's 60-day terms make it 2030-03-06.
                {"number": "I5", "contract": "K1", "issued_on": "2030-01-05", "amount": 30_000},
                {"number": "I6", "contract": "K4", "issued_on": "2028-03-15",
                 "due_on": "2028-05-14", "amount": 50_000},
                {"number": "E-I1", "contract": "E1", "issued_on": "2028-10-01",
                 "due_on": "2028-12-01", "amount": 20_000},
            ],
            "payments": [
                {"invoice": "I1", "paid_on": "2028-08-20", "amount": "120000.50"},
                {"invoice": "I2", "paid_on": "2029-03-15", "amount": 100_000},
                {"invoice": "I2", "paid_on": "2029-04-20", "amount": 100_000,
                 "method": "acceptance_bill", "reference": "承兑汇票 3130 0051"},
                {"invoice": "I3", "paid_on": "2029-08-10", "amount": 50_000},
                {"invoice": "I5", "paid_on": "2030-01-10", "amount": 20_000, "id": "P-I5"},
                {"invoice": "I6", "paid_on": "2028-06-13", "amount": 50_000},
                # Both late; only the second is within the last 12 months (after 2029-01-14).
                {"invoice": "E-I1", "paid_on": "2029-01-14", "amount": 10_000},
                {"invoice": "E-I1", "paid_on": "2029-01-15", "amount": 10_000},
            ],
        },
    )  # fmt: skip
    return finance


# -- the computed figures ---------------------------------------------------------------------


def test_summary_of_a_hand_computed_ledger(small: str) -> None:
    assert ok(small, "GET", f"/api/customers/{SMALL}/summary") == {
        "credit_code": SMALL,
        "name": "测试医院",
        "as_of": "2030-01-14",
        "currency": "CNY",
        "total_contracted": 620_000.50,  # K1 + K2: not the draft, not the terminated one
        "active_contracts": 1,
        "total_invoiced": 650_000.50,
        "total_paid": 440_000.50,
        "outstanding": 210_000,  # I3 100 000 + I4 100 000 + I5 10 000
        "overdue": 200_000,  # I3 and I4; I5 is due on 2030-03-06
        "overdue_invoices": 2,
        "max_days_overdue": 167,  # I3, due 2029-07-31
        # Paid in full or past due: I1 I2 I3 I4 I6; by the due date: I1 only.
        "on_time_ratio": 0.2,
        # I2's second payment (2029-04-20) and I3's (2029-08-10); I6's is too old.
        "late_payments_12m": 2,
        "credit_limit": 1_000_000,
        "available_credit": 790_000,
        "last_payment_on": "2030-01-10",
    }


def test_summary_twelve_month_window_and_over_limit(small: str) -> None:
    summary = ok(small, "GET", f"/api/customers/{EDGE}/summary")
    assert summary["late_payments_12m"] == 1
    assert (summary["outstanding"], summary["on_time_ratio"]) == (0, 0)
    ok(small, "POST", "/_admin/customers", customer(EDGE, credit_limit=0))
    late_invoice = {"number": "E-I2", "contract": "E1", "issued_on": "2030-01-14", "amount": "0.01"}
    ok(small, "POST", "/_admin/invoices", late_invoice)
    summary = ok(small, "GET", f"/api/customers/{EDGE}/summary")
    assert (summary["outstanding"], summary["available_credit"]) == (0.01, -0.01)
    assert (summary["overdue"], summary["on_time_ratio"]) == (0, 0)  # E-I2 is not due


def test_summary_of_a_customer_without_history(finance: str) -> None:
    fresh = code("12990202A00000001")
    ok(finance, "POST", "/_admin/customers", customer(fresh, credit_limit="2500.75"))
    summary = ok(finance, "GET", f"/api/customers/{fresh}/summary")
    assert summary | {"credit_code": None} == {
        "credit_code": None,
        "name": "测试医院",
        "as_of": TODAY.isoformat(),
        "currency": "CNY",
        "total_contracted": 0,
        "active_contracts": 0,
        "total_invoiced": 0,
        "total_paid": 0,
        "outstanding": 0,
        "overdue": 0,
        "overdue_invoices": 0,
        "max_days_overdue": 0,
        "on_time_ratio": None,
        "late_payments_12m": 0,
        "credit_limit": 2500.75,
        "available_credit": 2500.75,
        "last_payment_on": None,
    }


def test_invoices(small: str) -> None:
    invoices = {i["number"]: i for i in ok(small, "GET", f"/api/customers/{SMALL}/invoices")}
    assert list(invoices) == ["I6", "I1", "I2", "I3", "I4", "I5"]  # oldest first
    assert invoices["I2"] == {
        "number": "I2",
        "contract": "K1",
        "issued_on": "2029-02-01",
        "due_on": "2029-04-02",
        "amount": 200_000,
        "paid": 200_000,
        "outstanding": 0,
        "status": "paid",
        "settled_on": "2029-04-20",
        "days_late": 18,
        "days_overdue": 0,
    }
    assert invoices["I3"] | {"number": None, "contract": None} == {
        "number": None,
        "contract": None,
        "issued_on": "2029-06-01",
        "due_on": "2029-07-31",
        "amount": 150_000,
        "paid": 50_000,
        "outstanding": 100_000,
        "status": "overdue",
        "settled_on": None,
        "days_late": None,
        "days_overdue": 167,
    }
    assert (invoices["I4"]["status"], invoices["I4"]["days_overdue"]) == ("overdue", 14)
    assert (invoices["I5"]["due_on"], invoices["I5"]["status"]) == ("2030-03-06", "open")
    assert (invoices["I5"]["outstanding"], invoices["I5"]["days_overdue"]) == (10_000, 0)
    assert (invoices["I1"]["days_late"], invoices["I6"]["days_late"]) == (0, 30)


def test_payments(small: str) -> None:
    payments = ok(small, "GET", f"/api/customers/{SMALL}/payments")
    assert [(p["invoice"], p["paid_on"], p["days_late"]) for p in payments] == [
        ("I5", "2030-01-10", 0),
        ("I3", "2029-08-10", 10),
        ("I2", "2029-04-20", 18),
        ("I2", "2029-03-15", 0),
        ("I1", "2028-08-20", 0),
        ("I6", "2028-06-13", 30),
    ]
    assert payments[0]["id"] == "P-I5"
    bill = payments[2]
    assert bill | {"id": None} == {
        "id": None,
        "invoice": "I2",
        "contract": "K1",
        "paid_on": "2029-04-20",
        "amount": 100_000,
        "method": "acceptance_bill",
        "reference": "承兑汇票 3130 0051",
        "due_on": "2029-04-02",
        "days_late": 18,
    }
    assert bill["id"].startswith("PAY-")


def test_contracts(small: str) -> None:
    contracts = ok(small, "GET", f"/api/customers/{SMALL}/contracts")
    assert [(c["number"], c["status"]) for c in contracts] == [
        ("K3", "draft"),
        ("K1", "active"),
        ("K2", "completed"),
        ("K4", "terminated"),
    ]
    assert contracts[1] == {
        "number": "K1",
        "credit_code": SMALL,
        "title": "测试供货合同",
        "amount": 500_000,
        "currency": "CNY",
        "signed_on": "2029-01-10",
        "start_on": "2029-01-15",
        "end_on": "2030-01-14",
        "status": "active",
        "invoiced": 480_000,
        "paid": 270_000,
        "outstanding": 210_000,
    }
    active = ok(small, "GET", f"/api/customers/{SMALL}/contracts", params={"status": "active"})
    assert [c["number"] for c in active] == ["K1"]
    detail = ok(small, "GET", "/api/contracts/K1")
    assert detail | {"invoices": None} == contracts[1] | {"invoices": None}
    assert [i["number"] for i in detail["invoices"]] == ["I2", "I3", "I4", "I5"]


def test_customers(small: str) -> None:
    assert ok(small, "GET", f"/api/customers/{SMALL}") == {
        "credit_code": SMALL,
        "name": "测试医院",
        "credit_limit": 1_000_000,
        "payment_terms_days": 60,
        "currency": "CNY",
    }
    named = ok(small, "GET", "/api/customers", params={"name": "泉城"})
    assert [c["credit_code"] for c in named] == [JINAN]


def test_read_refusals(finance: str) -> None:
    unknown = code("12990203A00000001")
    for path in ("", "/contracts", "/invoices", "/payments", "/summary"):
        status, error, body = refused(finance, "GET", f"/api/customers/{unknown}{path}")
        assert (status, error) == (404, "unknown_customer")
        assert unknown in body["message"]
        status, error, _ = refused(finance, "GET", f"/api/customers/12370102454323197Y{path}")
        assert (status, error) == (400, "invalid_credit_code")
    assert refused(finance, "GET", "/api/contracts/NOPE")[:2] == (404, "unknown_contract")
    for params in ({"status": "signed"}, {"state": "active"}):
        status, error, _ = refused(
            finance, "GET", f"/api/customers/{JINAN}/contracts", params=params
        )
        assert (status, error) == (400, "bad_request")


# -- the demo ledger --------------------------------------------------------------------------


def test_demo_customers_are_the_demo_hospitals(finance: str) -> None:
    listed = {c["credit_code"]: c["name"] for c in ok(finance, "GET", "/api/customers")}
    # The distributor does not sell to the Nanjing eye hospital or the Kunming health centre.
    not_customers = {"523201045786579735", "12530112411862529R"}
    demo = {h.credit_code: h.name for h in DEMO_HOSPITALS if h.credit_code not in not_customers}
    assert {c: name for c, name in listed.items() if not c.startswith("1299")} == demo


def test_demo_bad_payer_stands_out(finance: str) -> None:
    jinan = ok(finance, "GET", f"/api/customers/{JINAN}/summary")
    beijing = ok(finance, "GET", f"/api/customers/{BEIJING}/summary")
    assert jinan["max_days_overdue"] == 170 and jinan["overdue_invoices"] == 3
    assert jinan["available_credit"] < 0
    assert jinan["late_payments_12m"] >= 3
    assert jinan["on_time_ratio"] == 0
    assert (beijing["overdue"], beijing["on_time_ratio"], beijing["late_payments_12m"]) == (0, 1, 0)
    assert beijing["available_credit"] > 0


# -- admin loads ------------------------------------------------------------------------------

OWN = code("12990204A00000001")


@pytest.fixture(scope="module")
def own(finance: str) -> str:
    """A customer with one active contract (K-OWN, 100 000) and one invoice (INV-OWN,
    40 000, 10 000 paid) and a draft contract (K-OWN-D)."""
    ok(finance, "POST", "/_admin/customers", customer(OWN))
    ok(
        finance,
        "POST",
        "/_admin/contracts",
        [
            contract("K-OWN", OWN, amount=100_000),
            contract("K-OWN-D", OWN, signed_on="2030-01-02", status="draft"),
        ],
    )
    invoice = {
        "number": "INV-OWN",
        "contract": "K-OWN",
        "issued_on": "2029-03-01",
        "amount": 40_000,
    }
    ok(finance, "POST", "/_admin/invoices", [invoice])
    payment = {"invoice": "INV-OWN", "paid_on": "2029-04-01", "amount": 10_000, "id": "P-OWN"}
    ok(finance, "POST", "/_admin/payments", payment)
    return finance


@pytest.mark.parametrize(
    ("path", "item", "status", "error", "fragment"),
    [
        ("contracts", contract("K-X", code("12990204A00000009")), 422, "unknown_customer",
         "load it first"),
        ("contracts", contract("K-OWN", OWN), 409, "duplicate_contract", "K-OWN"),
        ("contracts", contract("K-X", OWN, currency="USD"), 422, "invalid", "CNY"),
        ("contracts", contract("K-X", OWN, signed_on="2030-01-15"), 422, "future_date",
         "after today"),
        ("contracts", contract("K-X", OWN, end_on="2028-01-01"), 422, "invalid",
         "before 'start_on'"),
        ("contracts", contract("K-X", OWN, status="signed"), 422, "invalid", "'status'"),
        ("contracts", contract("K-X", OWN, amount=0), 422, "invalid", "more than 0"),
        ("contracts", contract("K-X", OWN, amount="1.234"), 422, "invalid", "two decimals"),
        ("contracts", contract("K-X", OWN, amount="many"), 400, "bad_request", "number"),
        ("contracts", contract("K-X", OWN, title=None), 400, "bad_request", "'title'"),
        ("contracts", contract("K-X", "91350100M000100Y44"), 400, "invalid_credit_code",
         "check character"),
        ("contracts", contract("K-X", OWN, owner="me"), 400, "bad_request", "unknown fields"),
        ("invoices", {"number": "I-X", "contract": "K-NONE", "issued_on": "2029-05-01",
                      "amount": 1}, 422, "unknown_contract", "K-NONE"),
        ("invoices", {"number": "I-X", "contract": "K-OWN-D", "issued_on": "2029-05-01",
                      "amount": 1}, 409, "contract_not_signed", "draft"),
        ("invoices", {"number": "I-X", "contract": "K-OWN", "issued_on": "2029-05-01",
                      "amount": "60000.01"}, 409, "exceeds_contract", "100,000.00"),
        ("invoices", {"number": "I-X", "contract": "K-OWN", "issued_on": "2029-05-01",
                      "due_on": "2029-04-30", "amount": 1}, 422, "invalid", "before 'issued_on'"),
        ("invoices", {"number": "I-X", "contract": "K-OWN", "issued_on": "2030-02-01",
                      "amount": 1}, 422, "future_date", "'issued_on'"),
        ("invoices", {"number": "INV-OWN", "contract": "K-OWN", "issued_on": "2029-05-01",
                      "amount": 1}, 409, "duplicate_invoice", "INV-OWN"),
        ("invoices", {"number": "I-X", "contract": "K-OWN", "amount": 1}, 400, "bad_request",
         "'issued_on' is required"),
        ("payments", {"invoice": "I-NONE", "paid_on": "2029-05-01", "amount": 1}, 422,
         "unknown_invoice", "I-NONE"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": "30000.01"},
         409, "overpayment", "29,999.00 CNY outstanding"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2029-02-28", "amount": 1}, 422,
         "invalid", "before invoice INV-OWN was issued"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2030-01-15", "amount": 1}, 422,
         "future_date", "'paid_on'"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": 1,
                      "method": "cash"}, 422, "invalid", "'method'"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": 1,
                      "id": "P-OWN"}, 409, "duplicate_payment", "P-OWN"),
        ("payments", {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": -5}, 422,
         "invalid", "'amount'"),
        ("customers", customer(OWN, credit_limit=-1), 422, "invalid", "'credit_limit'"),
        ("customers", customer(OWN, payment_terms_days=0), 400, "bad_request",
         "'payment_terms_days'"),
        ("customers", customer(OWN, name=""), 400, "bad_request", "'name'"),
    ],
)  # fmt: skip
def test_admin_refusals_change_nothing(
    own: str, path: str, item: dict[str, Any], status: int, error: str, fragment: str
) -> None:
    before = state(own, OWN)
    # A good item first: the whole batch must be refused with the bad one.
    good = {
        "customers": customer(OWN, name="改名"),
        "contracts": contract("K-GOOD", OWN),
        "invoices": {"number": "I-GOOD", "contract": "K-OWN", "issued_on": "2029-05-01",
                     "amount": 1},
        "payments": {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": 1},
    }[path]  # fmt: skip
    got_status, got_error, body = refused(own, "POST", f"/_admin/{path}", [good, item])
    assert (got_status, got_error) == (status, error), body
    assert fragment in body["message"], body
    assert (body["index"], body["message"][:8]) == (1, "item 1: ")
    assert state(own, OWN) == before


def test_admin_batches_check_against_their_own_items(own: str) -> None:
    before = state(own, OWN)
    # Each payment alone fits the 30 000 outstanding; together they do not.
    status, error, body = refused(
        own,
        "POST",
        "/_admin/payments",
        [
            {"invoice": "INV-OWN", "paid_on": "2029-05-01", "amount": 20_000},
            {"invoice": "INV-OWN", "paid_on": "2029-05-02", "amount": 20_000},
        ],
    )
    assert (status, error, body["index"], body["outstanding"]) == (409, "overpayment", 1, 10_000)
    status, error, body = refused(
        own, "POST", "/_admin/contracts", [contract("K-TWICE", OWN), contract("K-TWICE", OWN)]
    )
    assert (status, error, body["index"]) == (409, "duplicate_contract", 1)
    assert state(own, OWN) == before


def test_admin_dataset_is_one_transaction(own: str) -> None:
    before = state(own, OWN)
    newcomer = code("12990204A00000002")
    status, error, body = refused(
        own,
        "POST",
        "/_admin/dataset",
        {
            "customers": [customer(newcomer)],
            "contracts": [contract("K-NEW", newcomer)],
            "invoices": [
                {"number": "I-NEW", "contract": "K-NEW", "issued_on": "2029-05-01", "amount": 1},
                {"number": "I-NEW-2", "contract": "K-NEW", "issued_on": "2029-05-01",
                 "amount": 500_000},
            ],
        },
    )  # fmt: skip
    assert (status, error) == (409, "exceeds_contract")
    assert (body["collection"], body["index"]) == ("invoices", 1)
    assert body["message"].startswith("invoices[1]: ")
    assert refused(own, "GET", f"/api/customers/{newcomer}")[:2] == (404, "unknown_customer")
    assert refused(own, "GET", "/api/contracts/K-NEW")[:2] == (404, "unknown_contract")
    assert state(own, OWN) == before
    bad_bodies: list[Any] = [{"customers": {}}, {"suppliers": []}, [], {"payments": [1]}]
    for bad in bad_bodies:
        assert refused(own, "POST", "/_admin/dataset", bad)[:2] == (400, "bad_request")


def test_admin_customer_update(own: str) -> None:
    other = code("12990204A00000003")
    ok(own, "POST", "/_admin/customers", customer(other))
    ok(
        own,
        "POST",
        "/_admin/customers",
        customer(other, name="新名称", credit_limit=5, payment_terms_days=30),
    )
    assert ok(own, "GET", f"/api/customers/{other}") == {
        "credit_code": other,
        "name": "新名称",
        "credit_limit": 5,
        "payment_terms_days": 30,
        "currency": "CNY",
    }


# -- the service ------------------------------------------------------------------------------


def test_forced_failures(finance: str) -> None:
    check_forced_failures(finance, f"/api/customers/{JINAN}/summary")


def test_state_survives_a_restart_and_demo_seeds_once(tmp_path: Path) -> None:
    db = tmp_path / "contracts.db"
    with running("contracts", db, "--seed-demo") as base:
        before = state(base, JINAN)
        raised = customer(JINAN, name="济南泉城心血管病医院", credit_limit=9_000_000)
        ok(base, "POST", "/_admin/customers", raised | {"payment_terms_days": 90})
    with running("contracts", db, "--seed-demo") as base:
        after = state(base, JINAN)
        assert after[1:4] == before[1:4]  # contracts, invoices, payments: not loaded twice
        assert after[4]["credit_limit"] == 9_000_000
        assert after[4]["available_credit"] == 9_000_000 - 1_520_000
    with running("contracts", tmp_path / "empty.db") as base:
        assert ok(base, "GET", "/api/customers") == []
        assert call(base, "GET", f"/api/customers/{JINAN}/summary")[0] == 404
