"""`python -m glimpse` starts the desktop app; `python -m glimpse CMD` the CLI."""

import sys


def main() -> int:
    if len(sys.argv) > 1:
        from glimpse.cli import main as cli_main

        return cli_main()
    from glimpse.ui.app import main as gui_main

    return gui_main()


if __name__ == "__main__":
    sys.exit(main())
