"""The Dagster instance's storage as the project configures it (``dagster_home/dagster.yaml``)."""
