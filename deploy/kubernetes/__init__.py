"""Kubernetes manifests of inventory-monitor (docs/deploy-kubernetes.md) and their generator."""
