"""``python -m encoderscope`` runs the command line."""

from encoderscope.cli import main

main()
