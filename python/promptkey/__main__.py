import sys

from promptkey.cli import main

sys.exit(main())
