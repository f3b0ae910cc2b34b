"""Signed offline bundles: `rempart bundle keygen|create|verify|install` (docs/airgap.md)."""
