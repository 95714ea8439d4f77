"""``python -m bot`` runs the ``helpdesk-bot`` command line."""

import sys

from bot.cli import main

sys.exit(main())
