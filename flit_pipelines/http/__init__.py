"""One HTTP layer for every client, sources and destinations alike (issue 10 item 5).

* ``session``: the pooled ``requests`` session, query cleaning, one timed attempt, header parsing;
* ``retry``: the retry policy (tenacity): 429 always, transient failures when repeatable, and
  ``send_once`` for creates whose answer may be lost;
* ``rate_limit``: the moving-window limiter shared by a client's threads, with vendor-ordered pauses;
* ``patience``: the wave's total rate-limit patience (``rate_limit_patience_seconds``);
* ``errors``: the exception bases and markers the policy reads; ``redaction``: vendor error text
  without request values or credentials; ``stats``: request counters; ``clock``: injectable time.

Vendor specifics (headers, which status means what, header names of limits and budgets, error body
shapes) stay in each vendor's client. Neither ``sources`` nor ``destinations`` imports the other;
both import this package.
"""
