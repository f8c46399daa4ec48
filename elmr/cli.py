"""The `elmr` command: `server` runs the server, `env` prints the shell exports that
point the AWS CLI and boto3 at it, `logs` prints a step's logs, `spot` drives the
simulated spot market by hand, `cost` prints what clusters cost, `demo` runs the
main job end to end."""

import argparse
import os
import sys
from pathlib import Path

from elmr import cost_command, spot_command

DEFAULT_DATA_DIR = Path(os.environ.get("ELMR_DATA_DIR", ".elmr"))


def _server(args) -> int:
    from elmr.server import ServerOptions, serve

    serve(ServerOptions(
        data_dir=args.data_dir, host=args.host, port=args.port,
        database_url=args.database_url, region=args.region,
        max_local_nodes=args.max_local_nodes, request_timeout_s=args.request_timeout,
        node_heartbeat_timeout_s=args.node_heartbeat_timeout, scaling_cooldown_s=args.scaling_cooldown,
        **_spot_options(args),
    ))
    return 0


def _spot_options(args) -> dict:
    """The spot market's flags that were given (ServerOptions has the defaults)."""
    given = {"spot_seed": args.spot_seed, "spot_notice_s": args.spot_notice_seconds,
             "spot_price_period_s": args.spot_price_period}
    return {name: value for name, value in given.items() if value is not None}


def _env(args) -> int:
    from elmr import credentials
    from elmr.server import read_server_info

    info = read_server_info(args.data_dir) or {}
    url = f"http://{args.host}:{args.port}" if args.port else info.get("url")
    if url is None:
        print(f"elmr env: no server has run on the data dir {args.data_dir}; pass --data-dir "
              "(the server's) or --port", file=sys.stderr)
        return 2
    # The key the running server accepts, however it got it; else the data dir's own.
    keys = credentials.read_server_credentials(args.data_dir) or credentials.load_or_create(args.data_dir)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", keys.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", keys.secret_access_key),
        ("AWS_DEFAULT_REGION", info.get("region", "us-east-1")),
        ("AWS_ENDPOINT_URL_EMR", url),
        ("AWS_ENDPOINT_URL_S3", url),  # the object store is on the same port
    ):
        print(f"export {name}={value}")
    return 0


def _logs(args) -> int:
    from elmr.logs_command import show_logs

    from elmr.server import read_server_info

    name = "stderr" if args.stderr else "controller" if args.controller else "stdout"
    database_url = args.database_url or (read_server_info(args.data_dir) or {}).get("database_url")
    if database_url is None and not (args.data_dir / "elmr.db").exists():
        print(f"elmr logs: no elmr data dir at {args.data_dir.resolve()} (it has no elmr.db); pass "
              "--data-dir with the server's data dir (or set ELMR_DATA_DIR), or --database-url",
              file=sys.stderr)
        return 2
    return show_logs(args.data_dir, database_url, args.cluster_id, args.step_id, name, args.follow)


def _demo(args) -> int:
    from elmr.demo import main as demo_main

    return demo_main(args.demo_args)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="elmr", description="EMR that you run yourself")
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run the elmr server")
    server.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8900)
    server.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    server.add_argument("--region", default="us-east-1")
    server.add_argument("--max-local-nodes", type=int,
                        help="cap on nodes the local provider runs at once (default: by memory)")
    server.add_argument("--spot-seed", type=int,
                        help="seed of the simulated spot market (default: the data dir's, 17 on a new one)")
    server.add_argument("--spot-notice-seconds", type=_non_negative_float,
                        help="how long before EC2 takes an interrupted spot instance (default: EMR's 120)")
    server.add_argument("--spot-price-period", type=_positive_int,
                        help="seconds a spot price and capacity hold before they may move (default: 300)")
    server.add_argument("--node-heartbeat-timeout", type=float, metavar="SECONDS",
                        help="a running node whose agent is silent this long is lost and replaced "
                             "(default: 60)")
    server.add_argument("--scaling-cooldown", type=_non_negative_float, metavar="SECONDS",
                        help="managed scaling's waits: between scale-outs, after a resize before a "
                             "scale-in, and for spare capacity before a scale-in (default: 30, 120, 120)")
    server.add_argument("--request-timeout", type=float, default=20.0, metavar="SECONDS",
                        help="how long a request may pause, or take to send its headers (default 20)")
    server.set_defaults(run=_server)

    env = commands.add_parser("env", help="print export lines for the AWS CLI and boto3")
    env.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    env.add_argument("--host", default="127.0.0.1")
    env.add_argument("--port", type=int)
    env.set_defaults(run=_env)

    logs = commands.add_parser("logs", help="print a cluster's or a step's logs")
    logs.add_argument("cluster_id")
    logs.add_argument("step_id", nargs="?")
    logs.add_argument("--stderr", action="store_true", help="the step's stderr instead of stdout")
    logs.add_argument("--controller", action="store_true", help="the step's controller log")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the step ends")
    logs.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    logs.add_argument("--database-url")
    logs.set_defaults(run=_logs)

    spot_command.add_parser(commands)
    cost_command.add_parser(commands)

    demo = commands.add_parser("demo", help="run the main job: a cluster running Spark")
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
