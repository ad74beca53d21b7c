"""``python -m cascadener`` runs the command line."""

import sys

from cascadener.cli import console

if __name__ == "__main__":
    sys.exit(console())
