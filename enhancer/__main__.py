import sys

from enhancer.cli import main

sys.exit(main())
