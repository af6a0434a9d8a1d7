"""`python -m qa.cli ...` is the `qa` command."""

import sys

from qa.cli import main

sys.exit(main())
