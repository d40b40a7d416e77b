"""Kubernetes adapters: self-discovery, service evidence, the helper pod, node taints."""
