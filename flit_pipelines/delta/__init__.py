"""Delta pickup: the sensor, delta-wave snapshots and source deletions (issue 5)."""
