"""The vendor-neutral core every API sandbox is built on (Pipedrive, HighLevel, Ascend, ...).

A sandbox supplies its routes, error bodies and data, a ``SandboxState`` subclass holding them,
and a ``Gateway`` subclass with its authentication, limits and fault/429 bodies; the kernel
supplies the rest:

- ``gateway``: ``Gateway`` (auth -> admin -> route match -> stats -> faults -> limits -> check ->
  routes, with vendor hooks), ``Operation`` and ``OperationMatcher``
- ``auth``: ``bearer``, ``header``, ``basic_credentials`` (credentials read off a request scope)
- ``faults``: ``FaultInjector`` / ``FaultRule`` (rules from ``POST /__sandbox/faults``) and
  ``path_alias`` for sandboxes whose paths have aliases
- ``ratelimit``: ``RateLimiter`` (rolling burst windows + daily budget) and ``RateDecision``
- ``stats``: ``RequestStats`` (the counters of ``GET /__sandbox/stats``)
- ``admin``: ``admin_routes`` (the ``/__sandbox/`` endpoints)
- ``responses``: ``dumps``, ``json_response``, ``phrase``, ``Reply``, ``send_body``, ``drop_connection``
- ``state``: ``SandboxState``, the base of ``app.state.sandbox`` (faults, stats, limiter, ``close``)
- ``store``: ``SqliteStore`` (state-file connection, transactions, meta, blobs)
- ``tokens``: ``TokenStore`` (access tokens of an OAuth client-credentials endpoint, with expiry)

Serving (uvicorn, app assembly) lives in ``flit_sandboxes.serving``. Import from the
modules; this package re-exports nothing so that importing one piece stays cheap.
"""
