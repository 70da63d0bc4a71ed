"""`make bench`: figures for the dashboard, the event pipeline and the event store, each with a baseline."""
