"""Diagnosis: from evidence (probe, service state and log, node report) to a cause and fault class."""
