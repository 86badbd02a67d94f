from ci_deployer.process import cli

cli()
