"""`ecr-governance`: the command line of ecr-governance (argparse, one command module per capability, renderings,
local invoke, the embedded emulator and the demo). Not part of the Lambda package: `sam build` bundles functions/.

A Ctrl-C while a program of this package starts (`python -m ecr_governance_cli.demo` importing boto3, moto...) ends
it without a traceback: Python still ends the process by SIGINT, so the shell sees status 130.
"""

import sys


def _quiet_interrupt(kind, value, traceback):  # noqa: ANN001 - sys.excepthook's signature
    if issubclass(kind, KeyboardInterrupt):
        print(file=sys.stderr)  # end the line the terminal's ^C began
        return
    sys.__excepthook__(kind, value, traceback)


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _quiet_interrupt
