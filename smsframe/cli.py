"""The ``smsframe`` command: the demo and the provider's simulator.

- ``smsframe demo``
- ``smsframe simulator serve --db PATH [--port N] [--latency-ms N] [--account ...]``
- ``smsframe simulator deliveries --db PATH``
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path


def _account(text: str) -> tuple[int, str, str, int]:
    try:
        account_id, name, rest = text.split(":", 2)
        password, balance = rest.rsplit(":", 1)  # a password may hold ":"
        return int(account_id), name, password, int(balance)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected ID:NAME:PASSWORD:BALANCE, e.g. 101:demo:secret:1000"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsframe", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("demo", help="run a small campaign on the embedded simulator")

    simulator = commands.add_parser("simulator", help="the provider's simulator").add_subparsers(
        dest="action", required=True
    )
    serve = simulator.add_parser("serve", help="serve the provider's SOAP service on 127.0.0.1")
    serve.add_argument("--db", required=True, help="SQLite file holding the simulator's state")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=int, default=0, help="fixed latency of every call")
    serve.add_argument(
        "--account",
        type=_account,
        action="append",
        default=[],
        metavar="ID:NAME:PASSWORD:BALANCE",
        help="open an account unless it exists already (repeatable)",
    )
    deliveries = simulator.add_parser("deliveries", help="print the delivery log as CSV")
    deliveries.add_argument("--db", required=True)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from smsframe.simulator import Simulator

    simulator = Simulator(args.db, host=args.host, port=args.port, latency_ms=args.latency_ms)
    for account_id, name, password, balance in args.account:
        if not simulator.store.has_account(account_id):
            simulator.add_account(account_id, name, password, balance)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with simulator:
        print(simulator.wsdl_url, flush=True)
        stop.wait()
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    from smsframe.simulator.server import deliveries_frame
    from smsframe.simulator.store import Store

    if not Path(args.db).is_file():
        print(f"smsframe: no simulator database at {args.db}", file=sys.stderr)
        return 2
    store = Store(args.db)
    try:
        deliveries_frame(store).to_csv(sys.stdout, index=False)
    finally:
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from smsframe.demo import run

        return run()
    if args.action == "serve":
        return _serve(args)
    return _deliveries(args)


if __name__ == "__main__":
    sys.exit(main())
