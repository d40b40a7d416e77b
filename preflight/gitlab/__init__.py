"""GitLab reporting: runner pause with a maintenance note, one issue per node and cause, job artifacts."""
