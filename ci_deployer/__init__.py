"""ci-deployer: Vapi resources as config-as-code, promoted safely from dev to uat to prod."""

__version__ = "0.1.0"
