"""The report's figures: the catalogue (catalogue.py), its evaluation against Prometheus
(evaluate.py) and display formatting (format.py).

Nothing is imported here, so the config can read the catalogue's keys without loading
the evaluation, which reads the config.
"""
