"""Import jobs kept in a table, so every worker process behind a balancer serves the same
uploads, progress and reports (``service.ImportJobs``; the table in ``models``)."""
