import sys

from vcam.cli import main

sys.exit(main())
