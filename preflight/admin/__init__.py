"""What the admin fixed for job mode, and the anchors a job cannot forge (issue 20)."""
