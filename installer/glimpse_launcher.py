"""Entry script of the frozen app: one script, two executables.

Why one script: PyInstaller then analyses torch & co. once, and both
executables (`glimpse-gui`, windowed; `glimpse`, console) share one set of
libraries in one folder. The executable's own name picks the front end.
"""

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a frozen app must handle worker start-up itself
    name = os.path.splitext(os.path.basename(sys.executable))[0].lower()
    if name.endswith("-gui"):
        # gui_main checks Qt's platform plugin first (glimpse.ui.qt_preflight)
        # and names missing system libraries instead of letting Qt abort.
        from glimpse.ui.app import main as gui_main

        return int(gui_main() or 0)
    from glimpse.cli import main as cli_main

    return int(cli_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
