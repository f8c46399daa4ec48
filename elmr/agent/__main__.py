"""`python -m elmr.agent --node-dir DIR`: the entry point a node provider starts."""

import argparse
import sys
from pathlib import Path

from elmr.agent.node_agent import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="elmr.agent")
    parser.add_argument("--node-dir", type=Path, required=True)
    return run(parser.parse_args().node_dir)


if __name__ == "__main__":
    sys.exit(main())
