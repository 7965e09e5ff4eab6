"""Scenario engine: WHEN event / AND conditions / THEN actions."""
