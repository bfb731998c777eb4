"""Online experiments offline: `recsys ab report` (statistics of the event store) and `recsys ab simulate`."""
