"""Reconciliation bookkeeping: where every source row and every amount of a target went
(``accounting``), and the rows quarantined at extract kept with their values (``quarantined``)."""
