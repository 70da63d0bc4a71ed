"""Container images, Compose file, Kubernetes manifests and the health probe."""
