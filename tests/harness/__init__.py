"""Test harness: real dockerd processes and raw TCP listeners, started and stopped by the tests."""
