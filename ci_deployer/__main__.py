from ci_deployer.cli import entrypoint

entrypoint()
