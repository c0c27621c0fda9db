"""The client-testing lab: a journal of what each client did at the AS and the RS, a report card
graded rule by rule, and misbehaviour probes fired at runtime (docs/lab.md).

Modules: ``models`` (tables), ``journal`` (writing, retention, reading), ``secret`` (the RS's lab
secret), ``hooks`` (the one-line calls the AS routes make), ``probes``, ``catalog`` (rules and
probes), ``grading`` (one pure function per rule), ``views`` (the Python API the pages use),
``markdown`` (the pasteable report), ``ingest`` (RS events) and ``api`` (the JSON API).
"""
