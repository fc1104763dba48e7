"""Data derived from botocore, for every layer: hostname classification
(:mod:`.hostnames`), default client hosts (:mod:`.endpoints`) and their one on-disk
cache (:mod:`.cache`). Imports nothing of the audit, the lab or the analysis.
"""
