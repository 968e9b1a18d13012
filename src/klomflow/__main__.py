import sys

from klomflow.cli import main

sys.exit(main())
