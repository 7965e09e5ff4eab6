"""Multi-agent workflows: declarative agents, typed tools, orchestration, decision traces."""
