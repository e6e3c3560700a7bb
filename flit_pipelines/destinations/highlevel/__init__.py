"""HighLevel (LeadConnector API v2) destination: ``client`` (HTTP, rate limits, retries),
``destination`` (the ``Destination`` protocol and the spec contract, see its module docstring),
``bodies`` (payload row -> request body) and ``errors``; the HTTP mechanics are ``flit_pipelines.http``."""
