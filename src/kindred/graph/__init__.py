"""The customer semantic graph: typed relations between records, and queries over them."""
