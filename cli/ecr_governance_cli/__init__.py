"""`ecr-governance`: the command line of ecr-governance (argparse, one command module per capability, renderings,
local invoke, the embedded emulator and the demo). Not part of the Lambda package: `sam build` bundles functions/."""
