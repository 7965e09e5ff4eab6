"""Example agents: the article's purchase-intent case (compliance, inventory, service, and the
coordinator that runs them in parallel and joins their findings)."""
