"""The demo world's hospitals, shared by the reference services that key on credit codes.

The insurance registry (:mod:`kindred.reference.insurance`) and the distributor's contract
system (:mod:`kindred.reference.contracts`) seed the *same* institutions as the product's
agents demo: the data lives product-side in :mod:`kindred.agents.demo_hospitals` (product
code never imports the reference stand-ins; they may import it).
"""

from __future__ import annotations

from kindred.agents.demo_hospitals import BY_CREDIT_CODE, DEMO_HOSPITALS, DemoHospital

__all__ = ["BY_CREDIT_CODE", "DEMO_HOSPITALS", "DemoHospital"]
