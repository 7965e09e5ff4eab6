"""Multi-agent workflows: declarative agents, tools over reference systems, orchestration, traces."""
